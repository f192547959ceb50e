"""SageMaker card content -> CardContent (the mapping: ``sources.cards.sagemaker``).

Never raises on a JSON object: real cards are partial, so whatever is missing or
of an unexpected type is skipped (so are non-number metrics).
"""

from __future__ import annotations

from typing import Any

from sources.cards._sagemaker_json import (
    _at,
    _dicts,
    _finite,
    _lines,
    _obj,
    _some,
    _text,
    _texts,
    _unique,
)
from sources.cards._sagemaker_layout import (
    _LISTS,
    _PAIRS,
    _TEXTS,
    ADDITIONAL,
    JOB,
    LICENSE_KEY,
    OUT_OF_SCOPE_PREFIX,
    OVERVIEW,
    TRAINING,
    USER_PREFIX,
    USES,
    _is_reference,
    _notes_from,
    _objective,
    _reference_no,
)
from sources.models.model import CardContent, DatasetRef, EvaluationResult, IntendedUse


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


def _version_from(value: Any) -> str | None:
    if _finite(value):
        number = float(value)
        return str(int(number)) if number.is_integer() else repr(number)
    return _text(value)
