"""Where CardContent lives in a SageMaker card: the layout both directions share.

Paths, field names and limits of the model card JSON schema, the ``notes`` format
that carries a metric's threshold, pass/fail and slice, the objective function and
the ``reference_<n>`` custom details. See ``sources.cards.sagemaker`` for the mapping.
"""

from __future__ import annotations

from typing import Any

from sources.cards._sagemaker_json import (
    Path,
    _at,
    _clip,
    _finite,
    _float,
    _obj,
    _some,
    _text,
)
from sources.models.model import EvaluationResult

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


def _is_reference(key: str) -> bool:
    return key.startswith(REFERENCE_KEY) and key[len(REFERENCE_KEY) :].isdigit()


def _reference_no(key: str) -> int:
    return int(key[len(REFERENCE_KEY) :])
