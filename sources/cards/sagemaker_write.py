"""CardContent -> SageMaker card content (the mapping: ``sources.cards.sagemaker``).

Keeps to the model card JSON schema's types and lengths (longer text is clipped),
and a card read from SageMaker and written back reads the same.
"""

from __future__ import annotations

import math
from typing import Any

from sources.cards._sagemaker_json import (
    _clip,
    _finite,
    _float,
    _name,
    _obj,
    _put,
    _some,
    _strings_to,
    _text,
)
from sources.cards._sagemaker_layout import (
    _LISTS,
    _PAIRS,
    _TEXTS,
    ADDITIONAL,
    DEFAULT_EVALUATION,
    JOB,
    LICENSE_KEY,
    METRIC_GROUP,
    OUT_OF_SCOPE_PREFIX,
    OVERVIEW,
    REFERENCE_KEY,
    RISK_RATINGS,
    TRAINING,
    USER_PREFIX,
    USES,
    _is_reference,
    _notes_to,
    _objective,
)
from sources.models.model import (
    APPROVAL_FROM_SAGEMAKER,
    SAGEMAKER_APPROVAL,
    ApprovalStatus,
    CardContent,
    IntendedUse,
)


def content_to_sagemaker(
    card: CardContent,
    *,
    model_name: str,
    model_package_arn: str | None,
    group: str | None,
    version: int | None,
    approval: str | None,
) -> dict[str, Any]:
    """SageMaker card content for ``card``, valid against the model card JSON schema.

    ``version`` (the model package version) wins over the card's own version
    string, which SageMaker can only take when it is a number. ``approval``
    is SageMaker's spelling (``Approved``) or ours (``APPROVED``).
    """
    doc: dict[str, Any] = {}
    extra, intended = card.extra, card.intended_use or IntendedUse()
    model_version = version if version is not None else _version_to(card.version)
    _put(doc, OVERVIEW, "model_name", _clip(model_name, 1024))
    _put(doc, OVERVIEW, "model_description", _clip(card.overview or "", 1024))
    _put(doc, OVERVIEW, "model_owner", _clip(next(iter(card.owners), ""), 1024))
    _put(doc, OVERVIEW, "model_creator", _clip("; ".join(card.owners[1:]), 1024))
    _put(doc, OVERVIEW, "model_version", model_version if (model_version or 0) >= 1 else None)
    _put(doc, USES, "purpose_of_model", _clip(next(iter(intended.primary_uses), ""), 2048))
    uses = [
        *intended.primary_uses[1:],
        *(USER_PREFIX + user for user in intended.primary_users),
        *(OUT_OF_SCOPE_PREFIX + use for use in intended.out_of_scope),
    ]
    _put(doc, USES, "intended_uses", _clip("\n".join(uses), 2048))
    _put(doc, USES, "factors_affecting_model_efficiency", _clip("\n".join(card.factors), 2048))
    for path, field, limit in _TEXTS:
        text = _text(extra.get(field))
        if text and (field != "risk_rating" or text in RISK_RATINGS):  # the schema's enum
            _put(doc, path, field, _clip(text, limit))
    for path, field, key in _LISTS:
        _put(doc, path, field, _strings_to(extra.get(key), 15))
    _put(doc, TRAINING, "objective_function", _objective(extra.get("objective_function")))
    _put(doc, JOB, "training_datasets", _strings_to([ref.uri for ref in card.training_data], 15))
    for field, numeric, most in _PAIRS:
        pairs = [
            {"name": _name(name, 255), "value": value if numeric else _name(value, 255)}
            for name, value in _obj(extra.get(field)).items()
            if (_finite if numeric else _text)(value)
        ]
        _put(doc, JOB, field, pairs[:most])
    _put(doc, (), "evaluation_details", _evaluations_to(card))
    _put(
        doc,
        ADDITIONAL,
        "ethical_considerations",
        _clip("\n".join(card.ethical_considerations), 2048),
    )
    _put(doc, ADDITIONAL, "caveats_and_recommendations", _clip("\n".join(card.caveats), 2048))
    _put(doc, ADDITIONAL, "custom_details", _custom_details_to(card))
    package = ("model_package_details",)
    _put(doc, package, "model_package_arn", model_package_arn)
    _put(doc, package, "model_package_group_name", group)
    _put(doc, package, "model_package_version", version if (version or 0) >= 1 else None)
    _put(doc, package, "model_approval_status", _approval_to(approval))
    return doc


# --------------------------------------------------------------- sections ---


def _evaluations_to(card: CardContent) -> list[dict[str, Any]]:
    """One evaluation per dataset name: its number metrics, datasets and observations."""
    entries: dict[str, tuple[list[dict[str, Any]], list[str], list[str]]] = {}
    for result in card.evaluation:
        if _finite(result.value):
            metric = {"name": _name(result.metric, 255), "type": "number", "value": result.value}
            metric.update(_some(notes=_clip(_notes_to(result), 1024)))
            entries.setdefault(result.dataset or DEFAULT_EVALUATION, ([], [], []))[0].append(metric)
    for ref in card.evaluation_data:
        key = next((k for k in entries if k in (ref.name, ref.uri)), ref.name or DEFAULT_EVALUATION)
        entries.setdefault(key, ([], [], []))[1].append(ref.uri)
    for analysis in card.quantitative_analyses:
        key, sep, observation = analysis.partition(": ")
        if not (sep and key in entries):  # not about one evaluation: goes with the first
            key, observation = next(iter(entries), DEFAULT_EVALUATION), analysis
        entries.setdefault(key, ([], [], []))[2].append(observation)
    job_arns = _obj(card.extra.get("evaluation_job_arns"))
    return [
        {"name": _name(key, 63)}
        | _some(
            evaluation_observation=_clip("\n".join(observations), 2096),
            evaluation_job_arn=_clip(_text(job_arns.get(key)) or "", 256),
            datasets=_strings_to(uris, 10),
            metric_groups=[{"name": METRIC_GROUP, "metric_data": metrics}] if metrics else None,
        )
        for key, (metrics, uris, observations) in entries.items()
    ]


def _custom_details_to(card: CardContent) -> dict[str, str]:
    custom = {
        key: _clip(text, 1024)
        for key, value in _obj(card.extra.get("custom_details")).items()
        if (text := _text(value)) and key != LICENSE_KEY and not _is_reference(key)
    }
    if card.license:
        custom[LICENSE_KEY] = _clip(card.license, 1024)
    for number, reference in enumerate(card.references, start=1):
        custom[f"{REFERENCE_KEY}{number}"] = _clip(reference, 1024)
    return custom


def _approval_to(approval: str | None) -> str | None:
    if approval is None or approval in APPROVAL_FROM_SAGEMAKER:
        return approval
    try:
        return SAGEMAKER_APPROVAL[ApprovalStatus(approval)]
    except ValueError:
        return None  # not a status SageMaker knows: left out rather than refused


def _version_to(version: str | None) -> float | int | None:
    number = _float(version or "")
    if number is None or not math.isfinite(number):
        return None
    return int(number) if number.is_integer() else number
