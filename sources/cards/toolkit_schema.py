"""The Model Card Toolkit JSON schema 0.0.2, as ``check_model_card_toolkit`` enforces it.

From tensorflow/model-card-toolkit ``model_card_toolkit/schema/v0.0.2/
model_card.schema.json``: the top level is closed (``additionalProperties:
false``), so an unknown key there (``{"foo": 1}``) is an error; the sections
and their items are open, as the schema leaves them, so documents from later
toolkit releases (a dataset ``path``, a metric's ``confidence_interval`` or
``threshold``) still fit. Every property the schema names is checked for its
type, and a license needs exactly one of ``identifier`` and ``custom_text``.

One deliberate widening: a performance metric's ``value`` may be a number (as
the schema says) or text (as the toolkit's own Python library writes it, and
as mlmeta exports it).
"""

from __future__ import annotations

from typing import Any

from sources.cards._schema import Arr, Num, Obj, OneOf, Str
from sources.errors import InputError

SOURCE = "model-card-toolkit"

_TEXT = Str()
_GRAPHICS = Obj({"description": _TEXT, "collection": Arr(Obj({"name": _TEXT, "image": _TEXT}))})
_DESCRIBED = Arr(Obj({"description": _TEXT}))
_NUMBER_OR_TEXT = OneOf((Num(), Str()), "a number or a string")

SCHEMA = Obj(
    closed=True,
    fields={
        "schema_version": _TEXT,
        "model_details": Obj(
            {
                "name": _TEXT,
                "overview": _TEXT,
                "documentation": _TEXT,
                "owners": Arr(Obj({"name": _TEXT, "contact": _TEXT})),
                "version": Obj({"name": _TEXT, "date": _TEXT, "diff": _TEXT}),
                "licenses": Arr(
                    Obj(
                        {"identifier": _TEXT, "custom_text": _TEXT},
                        exactly_one=("identifier", "custom_text"),
                    )
                ),
                "references": Arr(Obj({"reference": _TEXT})),
                "citations": Arr(Obj({"style": _TEXT, "citation": _TEXT})),
            }
        ),
        "model_parameters": Obj(
            {
                "model_architecture": _TEXT,
                "data": Arr(
                    Obj(
                        {
                            "name": _TEXT,
                            "link": _TEXT,
                            "sensitive": Obj({"sensitive_data": Arr(_TEXT)}),
                            "graphics": _GRAPHICS,
                            "description": _TEXT,
                        }
                    )
                ),
                "input_format": _TEXT,
                "output_format": _TEXT,
            }
        ),
        "quantitative_analysis": Obj(
            {
                "performance_metrics": Arr(
                    Obj({"type": _TEXT, "value": _NUMBER_OR_TEXT, "slice": _TEXT})
                ),
                "graphics": _GRAPHICS,
            }
        ),
        "considerations": Obj(
            {
                "users": _DESCRIBED,
                "use_cases": _DESCRIBED,
                "limitations": _DESCRIBED,
                "tradeoffs": _DESCRIBED,
                "ethical_considerations": Arr(Obj({"name": _TEXT, "mitigation_strategy": _TEXT})),
            }
        ),
    },
)


def check_model_card_toolkit(document: Any) -> None:
    """``InputError`` naming the first key of ``document`` that does not fit schema 0.0.2."""
    try:
        SCHEMA.check(document, "")
    except InputError as exc:
        raise InputError(
            f"{exc.message} (Model Card Toolkit schema 0.0.2)", source=SOURCE
        ) from None
