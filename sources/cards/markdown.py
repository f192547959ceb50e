"""A card as Markdown, for TechDocs pages and READMEs.

One ``##`` section per section of "Model Cards for Model Reporting" (Mitchell
et al., 2019), always all of them and in the paper's order, so a reader sees
at a glance what is still missing ("_Not documented yet._"). The output
depends only on the card, so a page regenerated from an unchanged card does
not change.
"""

from __future__ import annotations

from datetime import UTC

from sources.models.model import (
    CardRecord,
    CardSource,
    DatasetRef,
    EvaluationResult,
    IntendedUse,
)

NOT_DOCUMENTED = "_Not documented yet._"
EMPTY_CELL = "—"
_SOURCES = {CardSource.MLMETA: "mlmeta", CardSource.SAGEMAKER: "SageMaker"}
_COLUMNS = ("Metric", "Value", "Dataset", "Slice", "Threshold", "Passed")


def render_markdown(card: CardRecord, *, model_name: str, version: str) -> str:
    """The card of version ``version`` of ``model_name`` as a Markdown document."""
    content = card.content
    sections = (
        ("Model details", _model_details(card, version)),
        ("Intended use", _intended_use(content.intended_use)),
        ("Factors", _bullets(content.factors)),
        ("Metrics", _metrics(content.evaluation)),
        ("Training data", _datasets(content.training_data)),
        ("Evaluation data", _datasets(content.evaluation_data)),
        ("Quantitative analyses", _bullets(content.quantitative_analyses)),
        ("Ethical considerations", _bullets(content.ethical_considerations)),
        ("Caveats and recommendations", _bullets(content.caveats)),
    )
    blocks = [f"# Model card: {_inline(model_name)} version {_inline(version)}", _facts(card)]
    blocks += [f"## {title}\n\n{body or NOT_DOCUMENTED}" for title, body in sections]
    return "\n\n".join(blocks) + "\n"


def _facts(card: CardRecord) -> str:
    status = card.status.value.replace("_", " ").capitalize()
    revision = str(card.revision) if card.revision else "not saved yet"
    source = _SOURCES[card.source] + (f" ({_inline(card.name)})" if card.name else "")
    updated = card.updated_at.astimezone(UTC).strftime("%Y-%m-%d %H:%M UTC")
    if card.updated_by:
        updated += f" by {_inline(card.updated_by)}"
    return (
        f"**Status:** {status} · **Revision:** {revision} · **Source:** {source} · "
        f"**Updated:** {updated}"
    )


def _model_details(card: CardRecord, version: str) -> str:
    content = card.content
    overview = content.overview.strip() if content.overview else ""
    owners = ", ".join(_inline(owner) for owner in content.owners)
    references = "".join(f"\n  - {_item(reference)}" for reference in content.references)
    facts = [
        f"- **Owners:** {owners or NOT_DOCUMENTED}",
        f"- **Version:** {_inline(content.version or version)}",
        f"- **License:** {_inline(content.license or '') or NOT_DOCUMENTED}",
        f"- **References:**{references or ' ' + NOT_DOCUMENTED}",
    ]
    return f"{overview or '**Overview:** ' + NOT_DOCUMENTED}\n\n" + "\n".join(facts)


def _intended_use(intended: IntendedUse | None) -> str:
    if intended is None:
        return ""
    parts = (
        ("Primary uses", intended.primary_uses),
        ("Primary users", intended.primary_users),
        ("Out of scope", intended.out_of_scope),
    )
    return "\n\n".join(f"**{label}**\n\n{_bullets(items)}" for label, items in parts if items)


def _metrics(results: list[EvaluationResult]) -> str:
    if not results:
        return ""
    rows = [
        (
            result.metric,
            number_text(result.value),
            result.dataset,
            result.slice,
            None if result.threshold is None else number_text(result.threshold),
            None if result.passed is None else ("yes" if result.passed else "no"),
        )
        for result in results
    ]
    lines = [_row(_COLUMNS), _row(("---",) * len(_COLUMNS))]
    lines += [_row(tuple(_cell(value) for value in row)) for row in rows]
    return "\n".join(lines)


def _datasets(refs: list[DatasetRef]) -> str:
    lines = []
    for ref in refs:
        line = f"{_inline(ref.name)}: {_code(ref.uri)}" if ref.name else _code(ref.uri)
        if ref.version:
            line += f" (version {_inline(ref.version)})"
        lines.append(f"- {line}")
    return "\n".join(lines)


def _bullets(items: list[str]) -> str:
    return "\n".join(f"- {_item(item)}" for item in items)


def _item(text: str) -> str:
    """A list item's text: continuation lines indented so they stay in the item."""
    return "\n  ".join(line.rstrip() for line in text.strip().splitlines())


def _inline(text: str) -> str:
    return " ".join(text.split())


def _code(text: str) -> str:
    return f"`` {text} ``" if "`" in text else f"`{text}`"


def _cell(value: str | None) -> str:
    """A table cell: ``|`` escaped and line breaks kept as ``<br>``, so the row holds."""
    if value is None or not value.strip():
        return EMPTY_CELL
    lines = [line.strip() for line in value.strip().splitlines()]
    return "<br>".join(lines).replace("|", "\\|")


def _row(cells: tuple[str, ...]) -> str:
    return "| " + " | ".join(cells) + " |"


def number_text(value: float) -> str:
    """The shortest text that reads back as ``value``; no trailing ``.0`` on whole numbers."""
    number = float(value)
    if number.is_integer() and abs(number) < 1e15:
        return str(int(number))
    return repr(number)
