"""What a card still lacks, and which status changes its lifecycle allows.

The lifecycle is SageMaker's: DRAFT -> PENDING_REVIEW -> APPROVED -> ARCHIVED.
A reviewer may send a card back (PENDING_REVIEW -> DRAFT), an approved card
may be reopened (APPROVED -> DRAFT) or sent to review again
(APPROVED -> PENDING_REVIEW), and any card not yet archived may be archived.
Archiving is final, and an approved card's content never changes while it
stays approved: what was approved is what readers see.
"""

from __future__ import annotations

from sources.errors import InputError
from sources.metadb.models import ModelCardStatus
from sources.models.model import CardContent

SOURCE = "metadb"
DRAFT = ModelCardStatus.DRAFT
PENDING_REVIEW = ModelCardStatus.PENDING_REVIEW
APPROVED = ModelCardStatus.APPROVED
ARCHIVED = ModelCardStatus.ARCHIVED

_MOVES = {
    DRAFT: {PENDING_REVIEW, ARCHIVED},
    PENDING_REVIEW: {DRAFT, APPROVED, ARCHIVED},
    APPROVED: {DRAFT, PENDING_REVIEW, ARCHIVED},
    ARCHIVED: set(),
}
_FIRST = (DRAFT, PENDING_REVIEW)


def empty_sections(content: CardContent) -> list[str]:
    """The GraphQL names of the sections with nothing in them, in card order."""
    intended = content.intended_use
    filled = {
        "overview": bool(content.overview and content.overview.strip()),
        "owners": bool(content.owners),
        "license": bool(content.license and content.license.strip()),
        "references": bool(content.references),
        "intendedUse": intended is not None
        and bool(intended.primary_uses or intended.primary_users or intended.out_of_scope),
        "factors": bool(content.factors),
        "evaluation": bool(content.evaluation),
        "trainingData": bool(content.training_data),
        "evaluationData": bool(content.evaluation_data),
        "quantitativeAnalyses": bool(content.quantitative_analyses),
        "ethicalConsiderations": bool(content.ethical_considerations),
        "caveats": bool(content.caveats),
    }
    return [name for name, has_content in filled.items() if not has_content]


def check_transition(
    old: ModelCardStatus | None, new: ModelCardStatus, *, content_changed: bool
) -> None:
    """Raise ``InputError`` unless a card may go from ``old`` (None: no card yet) to ``new``.

    ``content_changed`` says whether the new revision's content differs from
    the previous one's.
    """
    if old is None:
        if new not in _FIRST:
            raise InputError(
                f"a new card starts as DRAFT or PENDING_REVIEW, not {new}", source=SOURCE
            )
        return
    if old == ARCHIVED:
        raise InputError(
            "the card is ARCHIVED, which is final: it can no longer be edited", source=SOURCE
        )
    if old == new:
        if old == APPROVED and content_changed:
            raise InputError(
                "an APPROVED card's content cannot change while it stays APPROVED: reopen it "
                "as DRAFT or send it to PENDING_REVIEW with your changes",
                source=SOURCE,
            )
        return
    if new not in _MOVES[old]:
        allowed = ", ".join(sorted(_MOVES[old]))
        raise InputError(
            f"a card cannot go from {old} to {new}; from {old} it can go to {allowed}",
            source=SOURCE,
        )
