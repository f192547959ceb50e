"""SageMaker Model Card content <-> CardContent.

SageMaker keeps a card as one JSON document (the model card JSON schema),
mostly free text where CardContent keeps lists. The mapping:

- overview: ``model_overview.model_description``; owners: ``model_owner``, then
  ``model_creator`` (the owners past the first, joined by ``; ``); version:
  ``model_overview.model_version`` (a number);
- license, references: ``additional_information.custom_details`` (``license``,
  ``reference_1``, ...): SageMaker has no field for them;
- intended use: ``purpose_of_model``, then the lines of ``intended_uses``, where
  lines starting ``Primary user:`` or ``Out of scope:`` are users and out-of-scope uses;
- factors, ethical considerations, caveats: one item per line of
  ``factors_affecting_model_efficiency``, ``ethical_considerations``,
  ``caveats_and_recommendations``;
- evaluation: the ``number`` metrics of ``evaluation_details[].metric_groups[]``, the
  evaluation's name as dataset; slice, threshold and pass/fail travel in the
  metric's ``notes`` (``threshold: 0.85; passed: yes; slice: tenure < 6``);
- training data: ``training_datasets``; evaluation data: each evaluation's
  ``datasets``, named after it; quantitative analyses: each
  ``evaluation_observation``, as ``<evaluation>: <observation>``;
- extra: risk rating, business details, training job facts and the other
  custom details, under their SageMaker names, so writing a card back to
  SageMaker keeps them.

Reading never raises on a JSON object: real cards are partial, so whatever is
missing or of an unexpected type is skipped (so are non-number metrics).
Writing keeps to the schema's types and lengths (longer text is clipped), and
a card read from SageMaker and written back reads the same.
"""

from __future__ import annotations

import math
from collections.abc import Iterable
from typing import Any, TypeGuard, TypeVar

from sources.metadb.models import ModelCardStatus
from sources.models.model import (
    APPROVAL_FROM_SAGEMAKER,
    SAGEMAKER_APPROVAL,
    ApprovalStatus,
    CardContent,
    DatasetRef,
    EvaluationResult,
    IntendedUse,
)

T = TypeVar("T")
Path = tuple[str, ...]

_STATUS_FROM_SAGEMAKER = {
    "Draft": ModelCardStatus.DRAFT,
    "PendingReview": ModelCardStatus.PENDING_REVIEW,
    "Approved": ModelCardStatus.APPROVED,
    "Archived": ModelCardStatus.ARCHIVED,
}
_STATUS_TO_SAGEMAKER = {status: name for name, status in _STATUS_FROM_SAGEMAKER.items()}
RISK_RATINGS = ("High", "Medium", "Low", "Unknown")
USER_PREFIX = "Primary user: "
OUT_OF_SCOPE_PREFIX = "Out of scope: "
LICENSE_KEY = "license"
REFERENCE_KEY = "reference_"
DEFAULT_EVALUATION = "evaluation"
METRIC_GROUP = "metrics"
OVERVIEW: Path = ("model_overview",)
USES: Path = ("intended_uses",)
TRAINING: Path = ("training_details",)
JOB: Path = (*TRAINING, "training_job_details")
ADDITIONAL: Path = ("additional_information",)
# Kept in ``extra`` under the field's name: (where, field, max length).
_TEXTS: tuple[tuple[Path, str, int], ...] = (
    (OVERVIEW, "problem_type", 1024),
    (OVERVIEW, "algorithm_type", 1024),
    (USES, "risk_rating", 16),
    (USES, "explanations_for_risk_rating", 2048),
    (("business_details",), "business_problem", 2048),
    (("business_details",), "business_stakeholders", 2048),
    (("business_details",), "line_of_business", 2048),
    (TRAINING, "training_observations", 1024),
    (JOB, "training_arn", 1024),
)
# Lists of text: (where, field, key in ``extra``).
_LISTS: tuple[tuple[Path, str, str], ...] = (
    (OVERVIEW, "model_artifact", "model_artifact"),
    ((*OVERVIEW, "inference_environment"), "container_image", "inference_container_image"),
    ((*JOB, "training_environment"), "container_image", "training_container_image"),
)
# Lists of {name, value}, kept as {name: value}: (field, value is a number, max items).
_PAIRS = (("hyper_parameters", False, 100), ("training_metrics", True, 50))


def status_from_sagemaker(status: str) -> ModelCardStatus:
    """The status of a SageMaker card; an unknown one reads as DRAFT (it approves nothing)."""
    return _STATUS_FROM_SAGEMAKER.get(status, ModelCardStatus.DRAFT)


def status_to_sagemaker(status: ModelCardStatus) -> str:
    """The ``ModelCardStatus`` SageMaker's API takes: Draft, PendingReview, Approved, Archived."""
    return _STATUS_TO_SAGEMAKER[status]


def content_from_sagemaker(content: dict[str, Any]) -> CardContent:
    """The CardContent of a SageMaker card's content; never raises on a JSON object."""
    overview, uses, job = _at(content, OVERVIEW), _at(content, USES), _at(content, JOB)
    additional = _at(content, ADDITIONAL)
    custom = {k: v.strip() for k, v in _at(additional, ("custom_details",)).items() if _text(v)}
    license_ = custom.pop(LICENSE_KEY, None)
    references = [custom.pop(k) for k in sorted(filter(_is_reference, custom), key=_reference_no)]
    evaluations = _dicts(_obj(content).get("evaluation_details"))
    extra: dict[str, Any] = {f: t for p, f, _ in _TEXTS if (t := _text(_at(content, p).get(f)))}
    extra.update({k: v for p, f, k in _LISTS if (v := _texts(_at(content, p).get(f)))})
    extra.update(
        _some(objective_function=_objective(_at(content, TRAINING).get("objective_function")))
    )
    for field, numeric, _ in _PAIRS:
        pairs = {
            item["name"].strip(): item["value"]
            for item in _dicts(job.get(field))
            if _text(item.get("name")) and (_finite if numeric else _text)(item.get("value"))
        }
        extra.update(_some(**{field: pairs}))
    arns = {
        name: arn
        for e in evaluations
        if (name := _text(e.get("name"))) and (arn := _text(e.get("evaluation_job_arn")))
    }
    extra.update(_some(evaluation_job_arns=arns, custom_details=custom))
    results, evaluation_data, analyses = _evaluations_from(evaluations)
    creators = _text(overview.get("model_creator"))
    owners = [_text(overview.get("model_owner")), *map(_text, (creators or "").split(";"))]
    return CardContent(
        overview=_text(overview.get("model_description")),
        owners=_unique(owner for owner in owners if owner),
        version=_version_from(overview.get("model_version")),
        license=license_,
        references=references,
        intended_use=_intended_use_from(uses),
        factors=_lines(uses.get("factors_affecting_model_efficiency")),
        evaluation=results,
        training_data=[DatasetRef(uri=u) for u in _unique(_texts(job.get("training_datasets")))],
        evaluation_data=evaluation_data,
        quantitative_analyses=analyses,
        ethical_considerations=_lines(additional.get("ethical_considerations")),
        caveats=_lines(additional.get("caveats_and_recommendations")),
        extra=extra,
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


def _intended_use_from(uses: dict[str, Any]) -> IntendedUse | None:
    intended = IntendedUse()
    for line in _lines(uses.get("purpose_of_model")) + _lines(uses.get("intended_uses")):
        if line.lower().startswith(USER_PREFIX.lower()):
            intended.primary_users.append(line[len(USER_PREFIX) :].strip())
        elif line.lower().startswith(OUT_OF_SCOPE_PREFIX.lower()):
            intended.out_of_scope.append(line[len(OUT_OF_SCOPE_PREFIX) :].strip())
        else:
            intended.primary_uses.append(line)
    return intended if intended != IntendedUse() else None


def _evaluations_from(
    evaluations: list[dict[str, Any]],
) -> tuple[list[EvaluationResult], list[DatasetRef], list[str]]:
    results: list[EvaluationResult] = []
    datasets: list[DatasetRef] = []
    analyses: list[str] = []
    for evaluation in evaluations:
        name = _text(evaluation.get("name"))
        for group in _dicts(evaluation.get("metric_groups")):
            for metric in _dicts(group.get("metric_data")):
                metric_name, value = _text(metric.get("name")), metric.get("value")
                if metric.get("type", "number") == "number" and metric_name and _finite(value):
                    threshold, passed, slice_ = _notes_from(metric.get("notes"))
                    results.append(
                        EvaluationResult(metric_name, float(value), name, slice_, threshold, passed)
                    )
        datasets.extend(DatasetRef(uri=u, name=name) for u in _texts(evaluation.get("datasets")))
        if observation := _text(evaluation.get("evaluation_observation")):
            analyses.append(f"{name}: {observation}" if name else observation)
    return results, _unique(datasets), analyses


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


def _notes_to(result: EvaluationResult) -> str:
    parts = []
    if result.threshold is not None and _finite(result.threshold):
        parts.append(f"threshold: {result.threshold!r}")
    if result.passed is not None:
        parts.append(f"passed: {'yes' if result.passed else 'no'}")
    if result.slice:
        parts.append(f"slice: {result.slice}")  # last: it may hold "; "
    return "; ".join(parts)


def _notes_from(notes: Any) -> tuple[float | None, bool | None, str | None]:
    """(threshold, passed, slice) from notes ``_notes_to`` wrote; free text gives nothing."""
    threshold: float | None = None
    passed: bool | None = None
    rest = notes if isinstance(notes, str) else ""
    while rest:
        key, sep, tail = rest.partition(": ")
        if key == "slice" and sep:
            return threshold, passed, tail
        value, _, rest = tail.partition("; ")
        if key == "threshold" and _finite(number := _float(value)):
            threshold = number
        elif key == "passed" and value in ("yes", "no"):
            passed = value == "yes"
        else:
            return None, None, None
    return threshold, passed, None


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


def _objective(value: Any) -> dict[str, Any]:
    """The objective function's fields the schema knows, either way."""
    function = {
        key: _clip(text, 63)
        for key in ("function", "facet", "condition")
        if (text := _text(_at(value, ("function",)).get(key)))
    }
    if function.get("function") not in (None, "Maximize", "Minimize"):
        del function["function"]  # the schema's enum
    notes = _clip(_text(_obj(value).get("notes")) or "", 1024)
    return _some(function=function, notes=notes)


def _approval_to(approval: str | None) -> str | None:
    if approval is None or approval in APPROVAL_FROM_SAGEMAKER:
        return approval
    try:
        return SAGEMAKER_APPROVAL[ApprovalStatus(approval)]
    except ValueError:
        return None  # not a status SageMaker knows: left out rather than refused


def _version_from(value: Any) -> str | None:
    if _finite(value):
        number = float(value)
        return str(int(number)) if number.is_integer() else repr(number)
    return _text(value)


def _version_to(version: str | None) -> float | int | None:
    number = _float(version or "")
    if number is None or not math.isfinite(number):
        return None
    return int(number) if number.is_integer() else number


def _is_reference(key: str) -> bool:
    return key.startswith(REFERENCE_KEY) and key[len(REFERENCE_KEY) :].isdigit()


def _reference_no(key: str) -> int:
    return int(key[len(REFERENCE_KEY) :])


# ---------------------------------------------------------------- helpers ---


def _at(doc: Any, path: Path) -> dict[str, Any]:
    """The object at ``path``, or ``{}`` when anything on the way is missing or not one."""
    for key in path:
        doc = _obj(doc).get(key)
    return _obj(doc)


def _put(doc: dict[str, Any], path: Path, field: str, value: Any) -> None:
    """Set ``field`` at ``path`` (made as needed) unless ``value`` holds nothing."""
    if value not in (None, "", [], {}):
        for key in path:
            doc = doc.setdefault(key, {})
        doc[field] = value


def _some(**fields: Any) -> dict[str, Any]:
    """The fields that hold something: no None, empty text, list or object."""
    return {key: value for key, value in fields.items() if value not in (None, "", [], {})}


def _obj(value: Any) -> dict[str, Any]:
    return value if isinstance(value, dict) else {}


def _dicts(value: Any) -> list[dict[str, Any]]:
    return [item for item in value if isinstance(item, dict)] if isinstance(value, list) else []


def _text(value: Any) -> str | None:
    return value.strip() or None if isinstance(value, str) else None


def _texts(value: Any) -> list[str]:
    return [text for item in value if (text := _text(item))] if isinstance(value, list) else []


def _lines(value: Any) -> list[str]:
    return [line.strip() for line in value.splitlines() if line.strip()] if _text(value) else []


def _strings_to(value: Any, most: int) -> list[str]:
    return [_clip(text, 1024) for text in _unique(_texts(value))][:most]


def _finite(value: object) -> TypeGuard[int | float]:
    """A number JSON holds: int or float, not bool, not NaN or infinite."""
    return isinstance(value, int | float) and not isinstance(value, bool) and math.isfinite(value)


def _float(text: str) -> float | None:
    try:
        return float(text)
    except ValueError:
        return None


def _clip(text: str, limit: int) -> str:
    return text if len(text) <= limit else text[: limit - 1] + "…"


def _name(text: str, limit: int) -> str:
    """A name for the schema's ``.{1,N}`` patterns: one line, never empty."""
    return _clip(" ".join(text.splitlines()).strip() or "unnamed", limit)


def _unique(items: Iterable[T]) -> list[T]:
    return list(dict.fromkeys(items))
