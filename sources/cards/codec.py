"""CardContent <-> the JSON document stored in ``model_card_revisions.content``.

The document uses the dataclass field names as keys and always writes every
key, so a stored revision reads the same whatever the code version that wrote
it. Reading is lenient about what older rows lack (a missing key or ``null``
takes the field's default) and strict about nothing else: everything written
here reads back equal.
"""

from __future__ import annotations

import copy
import json
from typing import Any

from sources.errors import InputError
from sources.models.model import CardContent, DatasetRef, EvaluationResult, IntendedUse

SOURCE = "metadb"


def content_to_json(content: CardContent) -> dict[str, Any]:
    """The document to store for ``content``.

    Raises ``InputError`` for what JSON cannot hold on both backends: a
    non-finite number (PostgreSQL's JSONB refuses NaN) or an ``extra`` value
    that is not plain JSON.
    """
    intended = content.intended_use
    document: dict[str, Any] = {
        "overview": content.overview,
        "owners": list(content.owners),
        "version": content.version,
        "license": content.license,
        "references": list(content.references),
        "intended_use": None
        if intended is None
        else {
            "primary_uses": list(intended.primary_uses),
            "primary_users": list(intended.primary_users),
            "out_of_scope": list(intended.out_of_scope),
        },
        "factors": list(content.factors),
        "evaluation": [_result_to_json(result) for result in content.evaluation],
        "training_data": [_dataset_to_json(ref) for ref in content.training_data],
        "evaluation_data": [_dataset_to_json(ref) for ref in content.evaluation_data],
        "quantitative_analyses": list(content.quantitative_analyses),
        "ethical_considerations": list(content.ethical_considerations),
        "caveats": list(content.caveats),
        "extra": copy.deepcopy(content.extra),
    }
    try:
        json.dumps(document, allow_nan=False)
    except (TypeError, ValueError) as exc:
        raise InputError(
            f"card content cannot be stored: {exc}; use finite numbers and plain JSON values",
            source=SOURCE,
        ) from exc
    return document


def content_from_json(document: dict[str, Any]) -> CardContent:
    """The content a stored document describes; absent keys take their defaults."""
    intended = document.get("intended_use")
    return CardContent(
        overview=document.get("overview"),
        owners=_strings(document.get("owners")),
        version=document.get("version"),
        license=document.get("license"),
        references=_strings(document.get("references")),
        intended_use=None
        if intended is None
        else IntendedUse(
            primary_uses=_strings(intended.get("primary_uses")),
            primary_users=_strings(intended.get("primary_users")),
            out_of_scope=_strings(intended.get("out_of_scope")),
        ),
        factors=_strings(document.get("factors")),
        evaluation=[_result_from_json(item) for item in document.get("evaluation") or ()],
        training_data=[_dataset_from_json(item) for item in document.get("training_data") or ()],
        evaluation_data=[
            _dataset_from_json(item) for item in document.get("evaluation_data") or ()
        ],
        quantitative_analyses=_strings(document.get("quantitative_analyses")),
        ethical_considerations=_strings(document.get("ethical_considerations")),
        caveats=_strings(document.get("caveats")),
        extra=copy.deepcopy(document.get("extra") or {}),
    )


def _result_to_json(result: EvaluationResult) -> dict[str, Any]:
    return {
        "metric": result.metric,
        "value": result.value,
        "dataset": result.dataset,
        "slice": result.slice,
        "threshold": result.threshold,
        "passed": result.passed,
    }


def _result_from_json(item: dict[str, Any]) -> EvaluationResult:
    threshold = item.get("threshold")
    return EvaluationResult(
        metric=item["metric"],
        value=float(item["value"]),  # JSONB gives back 1 for 1.0
        dataset=item.get("dataset"),
        slice=item.get("slice"),
        threshold=None if threshold is None else float(threshold),
        passed=item.get("passed"),
    )


def _dataset_to_json(ref: DatasetRef) -> dict[str, Any]:
    return {"uri": ref.uri, "version": ref.version, "name": ref.name}


def _dataset_from_json(item: dict[str, Any]) -> DatasetRef:
    return DatasetRef(uri=item["uri"], version=item.get("version"), name=item.get("name"))


def _strings(value: Any) -> list[str]:
    return list(value or ())
