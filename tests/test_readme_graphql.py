"""Every GraphQL snippet in README.md is valid against the schema the code builds.

A reader copies these into GraphiQL; one that fails validation (an undeclared
variable, a field selected on an interface without a fragment) is a bug.
"""

from __future__ import annotations

import re
from pathlib import Path

import pytest
from graphql import parse, validate

from gateway.config import Settings
from gateway.schema import build_schema

README = (Path(__file__).resolve().parents[1] / "README.md").read_text()
BLOCKS = re.findall(r"```graphql\n(.*?)```", README, re.DOTALL)
INLINE = re.findall(r"`((?:query|mutation|subscription)\b[^`]*\{[^`]*)`", README)


@pytest.fixture(scope="module")
def schema() -> object:
    return build_schema(Settings())._schema


@pytest.mark.parametrize("snippet", BLOCKS + INLINE, ids=lambda s: " ".join(s.split())[:60])
def test_a_readme_snippet_is_a_valid_document(schema: object, snippet: str) -> None:
    errors = validate(schema, parse(snippet))  # type: ignore[arg-type]
    assert not errors, [e.message for e in errors]


def test_the_snippets_were_found() -> None:
    assert len(BLOCKS) >= 10
    assert any("executionUpdated(executionId: $id)" in s for s in INLINE)
