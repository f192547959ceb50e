"""Google Model Card Toolkit JSON (schema 0.0.2) -> CardContent: cards moving into mlmeta.

The reverse of ``sources.cards.toolkit``. The mapping:

- ``model_details``: ``overview``; ``owners[]`` (``name``, as ``name <contact>``
  when the contact differs); ``version.name``; ``licenses[]`` (``identifier`` or
  ``custom_text``, several joined by ``; ``); ``references[].reference``;
- ``model_parameters.data[]``: datasets, ``link`` (else ``uri``, ``path``, then
  ``name``) as the URI. The schema has no role field, so the role comes from
  the ``description``: the export's ``Training data[, version V]`` and
  ``Evaluation data[, version V]`` exactly (with the version), otherwise words
  in the description, else the name (eval/test/validation/holdout: evaluation;
  train: training; both: both lists). A dataset with no hint is training data.
  The 0.0.1 shape ``data: {"train": {...}, "eval": {...}}`` is read too;
- ``quantitative_analysis.performance_metrics[]``: ``type``, ``value`` and
  ``threshold`` (text in the toolkit; numbers accepted), ``slice``. A metric
  without a type or a finite numeric value is skipped;
  ``quantitative_analysis.graphics.description``: the quantitative analyses,
  one per paragraph (as the export writes them);
- ``considerations``: ``users`` and ``use_cases`` are the intended use;
  ``limitations`` are caveats, except those the export prefixed ``Out of
  scope:`` or ``Factor affecting performance:``, read back as out-of-scope uses
  and factors; ``tradeoffs`` are caveats prefixed ``Tradeoff:``;
  ``ethical_considerations[]`` are ``name: mitigation_strategy``.

Reading never raises on a JSON object: whatever is missing, blank or of an
unexpected type is skipped. Text is kept as written (not stripped), so what
the export wrote reads back equal, except for what it cannot carry:

- ``extra``, and each metric's dataset and pass/fail: the export leaves them
  out, they read back empty;
- a quantitative analysis holding a blank line reads back as several;
- an intended use with no uses, users or out-of-scope uses reads back as none;
- a dataset named exactly its URI reads back without a name;
- a license identifier is read back stripped of surrounding spaces (the
  export strips it);
- a caveat that itself starts ``Out of scope:`` or ``Factor affecting
  performance:`` reads back as an out-of-scope use or a factor;
- text that is empty or all spaces is dropped.

Also dropped from toolkit documents: model name, documentation, citations,
version date and diff, architecture and formats, graphics, sensitive data and
confidence intervals (mlmeta has no section for them).
"""

from __future__ import annotations

import math
import re
from typing import Any

from sources.cards.markdown import number_text
from sources.cards.toolkit import ANALYSES_SEPARATOR, FACTOR, OUT_OF_SCOPE
from sources.errors import InputError
from sources.models.model import CardContent, DatasetRef, EvaluationResult, IntendedUse

SOURCE = "model-card-toolkit"
# The prefixes sources.cards.toolkit folds sections into limitations with.
TRADEOFF = "Tradeoff: "
_EXPORTED_ROLE = re.compile(r"(Training|Evaluation) data(?:, version (.+))?", re.DOTALL)
_EVALUATION_WORDS = re.compile(r"(?<![a-z])(eval|test|validat|hold-?out)")
_TRAINING_WORDS = re.compile(r"(?<![a-z])train")


def content_from_model_card_toolkit(document: dict[str, Any]) -> CardContent:
    """The card content a Model Card Toolkit document describes.

    Raises ``InputError`` only when ``document`` is not a JSON object.
    """
    if not isinstance(document, dict):
        raise InputError("a Model Card Toolkit document must be a JSON object", source=SOURCE)
    details = _obj(document.get("model_details"))
    considerations = _obj(document.get("considerations"))
    training: list[DatasetRef] = []
    evaluation: list[DatasetRef] = []
    for item, roles in _datasets(_obj(document.get("model_parameters")).get("data")):
        if (ref := _dataset(item)) is not None:
            if "training" in roles:
                training.append(ref)
            if "evaluation" in roles:
                evaluation.append(ref)
    caveats: list[str] = []
    out_of_scope: list[str] = []
    factors: list[str] = []
    for limitation in _described(considerations.get("limitations")):
        if limitation.startswith(OUT_OF_SCOPE):
            out_of_scope += _nonblank(limitation.removeprefix(OUT_OF_SCOPE))
        elif limitation.startswith(FACTOR):
            factors += _nonblank(limitation.removeprefix(FACTOR))
        else:
            caveats.append(limitation)
    caveats += [TRADEOFF + text for text in _described(considerations.get("tradeoffs"))]
    intended = IntendedUse(
        primary_uses=_described(considerations.get("use_cases")),
        primary_users=_described(considerations.get("users")),
        out_of_scope=out_of_scope,
    )
    analysis = _obj(document.get("quantitative_analysis"))
    metrics = analysis.get("performance_metrics")
    analyses = _text(_obj(analysis.get("graphics")).get("description")) or ""
    return CardContent(
        overview=_text(details.get("overview")),
        owners=[owner for item in _list(details.get("owners")) if (owner := _owner(item))],
        version=_version(details.get("version")),
        license="; ".join(_licenses(details)) or None,
        references=_references(details.get("references")),
        intended_use=intended if intended != IntendedUse() else None,
        factors=factors,
        evaluation=[result for item in _dicts(metrics) if (result := _metric(item))],
        training_data=training,
        evaluation_data=evaluation,
        quantitative_analyses=[a for a in analyses.split(ANALYSES_SEPARATOR) if a.strip()],
        ethical_considerations=_risks(considerations.get("ethical_considerations")),
        caveats=caveats,
    )


def _owner(item: Any) -> str | None:
    if isinstance(item, str):
        return _text(item)
    owner = _obj(item)
    name, contact = _text(owner.get("name")), _text(owner.get("contact"))
    if name and contact and contact != name:
        return f"{name} <{contact}>"
    return name or contact


def _version(value: Any) -> str | None:
    name = value.get("name") if isinstance(value, dict) else value
    if isinstance(name, str):
        return _text(name)
    number = _number(name)
    return None if number is None else number_text(number)


def _licenses(details: dict[str, Any]) -> list[str]:
    """``licenses[]`` of 0.0.2; the single ``license`` text of 0.0.1."""
    licenses = [_text(details.get("license"))]
    for item in _list(details.get("licenses")):
        if isinstance(item, dict):
            identifier = _text(item.get("identifier"))
            licenses.append(identifier.strip() if identifier else _text(item.get("custom_text")))
        else:
            licenses.append(_text(item))
    return [license_ for license_ in licenses if license_]


def _references(value: Any) -> list[str]:
    items = (item.get("reference") if isinstance(item, dict) else item for item in _list(value))
    return [text for item in items if (text := _text(item))]


def _datasets(value: Any) -> list[tuple[dict[str, Any], set[str]]]:
    """Each dataset with its roles; 0.0.1 keyed them ``train`` and ``eval``."""
    if isinstance(value, dict):
        keyed = (("train", "training"), ("eval", "evaluation"))
        return [(item, {role}) for key, role in keyed if (item := _obj(value.get(key)))]
    return [(item, _roles(item)) for item in _dicts(value)]


def _roles(item: dict[str, Any]) -> set[str]:
    description = _text(item.get("description")) or ""
    if exported := _EXPORTED_ROLE.fullmatch(description):
        return {exported.group(1).lower()}
    for hint in (description, _text(item.get("name")) or ""):
        roles = set()
        if _EVALUATION_WORDS.search(hint.lower()):
            roles.add("evaluation")
        if _TRAINING_WORDS.search(hint.lower()):
            roles.add("training")
        if roles:
            return roles
    return {"training"}


def _dataset(item: dict[str, Any]) -> DatasetRef | None:
    name = _text(item.get("name"))
    links = (_text(item.get(key)) for key in ("link", "uri", "path"))
    uri = next((link for link in links if link), name)
    if uri is None:
        return None
    exported = _EXPORTED_ROLE.fullmatch(_text(item.get("description")) or "")
    version = exported.group(2) if exported else None
    return DatasetRef(uri=uri, version=version, name=name if name != uri else None)


def _metric(item: dict[str, Any]) -> EvaluationResult | None:
    metric, value = _text(item.get("type")), _number(item.get("value"))
    if metric is None or value is None:
        return None
    return EvaluationResult(
        metric=metric,
        value=value,
        slice=_text(item.get("slice")),
        threshold=_number(item.get("threshold")),
    )


def _risks(value: Any) -> list[str]:
    risks: list[str] = []
    for item in _list(value):
        if isinstance(item, dict):
            name, mitigation = _text(item.get("name")), _text(item.get("mitigation_strategy"))
            risk = f"{name}: {mitigation}" if name and mitigation else name or mitigation
        else:
            risk = _text(item)
        if risk:
            risks.append(risk)
    return risks


def _described(value: Any) -> list[str]:
    """``[{"description": ...}]`` of 0.0.2; plain strings of 0.0.1."""
    items = (item.get("description") if isinstance(item, dict) else item for item in _list(value))
    return [text for item in items if (text := _text(item))]


def _number(value: Any) -> float | None:
    """A finite number, given as a number or as text (the toolkit writes text)."""
    if isinstance(value, bool) or not isinstance(value, int | float | str):
        return None
    try:
        number = float(value)
    except (ValueError, OverflowError):  # OverflowError: an int too big for a float
        return None
    return number if math.isfinite(number) else None


def _nonblank(text: str) -> list[str]:
    return [text] if text.strip() else []


def _text(value: Any) -> str | None:
    """Text as written, or None when it is not text or is blank."""
    return value if isinstance(value, str) and value.strip() else None


def _obj(value: Any) -> dict[str, Any]:
    return value if isinstance(value, dict) else {}


def _list(value: Any) -> list[Any]:
    return value if isinstance(value, list) else []


def _dicts(value: Any) -> list[dict[str, Any]]:
    return [item for item in _list(value) if isinstance(item, dict)]
