"""A card as Google Model Card Toolkit JSON (schema 0.0.2), for tools that read that format.

Where the toolkit has no field for a section, the section is folded into the
nearest one: out-of-scope uses and factors become limitations (the schema
asks there which factors degrade performance), caveats too. Quantitative
analyses (free text) are the description of the quantitative analysis'
graphics, the one free text of that section (what the toolkit's templates
print under it), one paragraph each (``ANALYSES_SEPARATOR``). Whether a metric
passed its threshold, and the dataset it was measured on, have no place in the
schema and are left out. Empty fields are left out rather than written empty,
and the output depends only on the card.
"""

from __future__ import annotations

import re
from datetime import UTC
from typing import Any

from sources.cards.markdown import number_text
from sources.models.model import CardRecord, DatasetRef, EvaluationResult, IntendedUse

SCHEMA_VERSION = "0.0.2"
# An SPDX license identifier (or "proprietary"): one word of these characters.
_LICENSE_ID = re.compile(r"[A-Za-z0-9][A-Za-z0-9.+-]*")


OUT_OF_SCOPE = "Out of scope: "
"""Prefix of a limitation that is an out-of-scope use (MCT has no field for those)."""
FACTOR = "Factor affecting performance: "
"""Prefix of a limitation that is a factor (MCT has no field for those either)."""
ANALYSES_SEPARATOR = "\n\n"
"""Between quantitative analyses in ``quantitative_analysis.graphics.description``."""


def to_model_card_toolkit(card: CardRecord, *, model_name: str) -> dict[str, Any]:
    """The Model Card Toolkit JSON of ``card``; the version date is the revision's date."""
    content = card.content
    intended = content.intended_use or IntendedUse()
    version = _some(name=content.version, date=card.updated_at.astimezone(UTC).date().isoformat())
    details = {"name": model_name} | _some(
        overview=content.overview,
        owners=[_owner(owner) for owner in content.owners],
        version=version,
        licenses=[_license(content.license)] if content.license else None,
        references=[{"reference": reference} for reference in content.references],
    )
    data = [_dataset(ref, "Training data") for ref in content.training_data]
    data += [_dataset(ref, "Evaluation data") for ref in content.evaluation_data]
    limitations = [
        *content.caveats,
        *(f"{OUT_OF_SCOPE}{use}" for use in intended.out_of_scope),
        *(f"{FACTOR}{factor}" for factor in content.factors),
    ]
    considerations = _some(
        users=_described(intended.primary_users),
        use_cases=_described(intended.primary_uses),
        limitations=_described(limitations),
        ethical_considerations=[{"name": text} for text in content.ethical_considerations],
    )
    return {
        "schema_version": SCHEMA_VERSION,
        "model_details": details,
        "model_parameters": _some(data=data),
        "quantitative_analysis": _some(
            performance_metrics=[_metric(result) for result in content.evaluation],
            graphics=_some(description=ANALYSES_SEPARATOR.join(content.quantitative_analyses)),
        ),
        "considerations": considerations,
    }


def _owner(owner: str) -> dict[str, str]:
    """An owner; an e-mail address is also its contact (Backstage refs are not)."""
    is_address = "@" in owner and not any(c.isspace() for c in owner)
    return {"name": owner, "contact": owner} if is_address else {"name": owner}


def _license(license_: str) -> dict[str, str]:
    if _LICENSE_ID.fullmatch(license_.strip()):
        return {"identifier": license_.strip()}
    return {"custom_text": license_}


def _dataset(ref: DatasetRef, role: str) -> dict[str, str]:
    description = f"{role}, version {ref.version}" if ref.version else role
    return {"name": ref.name or ref.uri, "link": ref.uri, "description": description}


def _metric(result: EvaluationResult) -> dict[str, str]:
    """A performance metric: the toolkit takes values and thresholds as text."""
    threshold = None if result.threshold is None else number_text(result.threshold)
    return {"type": result.metric, "value": number_text(result.value)} | _some(
        slice=result.slice, threshold=threshold
    )


def _described(items: list[str]) -> list[dict[str, str]]:
    return [{"description": item} for item in items]


def _some(**fields: Any) -> dict[str, Any]:
    return {key: value for key, value in fields.items() if value not in (None, "", [], {})}
