"""Cards written in other tools, checked before they become an mlmeta revision.

The readers (``sagemaker_read``, ``toolkit_import``) are lenient on purpose:
SageMaker's own cards are partial, and reading one must never fail. An import
is different: it replaces the whole content of the version's mlmeta card, so a
document that is not a card of the format claimed (``{"foo": 1}``) must be
refused before anything is stored, not saved as an empty revision. An import
is therefore checked against the format's schema first (``toolkit_schema``,
``sagemaker_schema``), then read, and refused when it holds nothing mlmeta
keeps.
"""

from __future__ import annotations

from typing import Any

from sources.cards.sagemaker import content_from_sagemaker
from sources.cards.sagemaker_schema import check_sagemaker_content
from sources.cards.toolkit_import import content_from_model_card_toolkit
from sources.cards.toolkit_schema import check_model_card_toolkit
from sources.errors import InputError
from sources.models.model import CardContent


def import_sagemaker(document: Any) -> CardContent:
    """The content of SageMaker model card content JSON; ``InputError`` naming the key at
    fault when it does not fit the schema, or when it holds nothing mlmeta keeps."""
    check_sagemaker_content(document)
    return _not_empty(content_from_sagemaker(document), "SageMaker model card content")


def import_model_card_toolkit(document: Any) -> CardContent:
    """The content of a Model Card Toolkit 0.0.2 document; ``InputError`` as above."""
    check_model_card_toolkit(document)
    return _not_empty(content_from_model_card_toolkit(document), "Model Card Toolkit document")


def _not_empty(content: CardContent, what: str) -> CardContent:
    if content == CardContent():
        raise InputError(
            f"content: this {what} holds nothing mlmeta keeps (no overview, owner, use, "
            "metric, dataset or consideration); nothing was stored"
        )
    return content
