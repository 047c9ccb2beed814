"""SPEC §11: ``schema.graphql`` at the repository root is exported from the code and must
always match it."""

from __future__ import annotations

from pathlib import Path

from gql.schema import schema

SCHEMA_FILE = Path(__file__).resolve().parent.parent / "schema.graphql"
REGENERATE = (
    "schema.graphql is stale: regenerate it from the repository root with\n"
    "    strawberry export-schema gql.schema:schema --output schema.graphql\n"
    "(the command needs the CLI extra: pip install 'strawberry-graphql[cli]')"
)


def test_schema_file_matches_the_code() -> None:
    assert SCHEMA_FILE.is_file(), REGENERATE
    assert SCHEMA_FILE.read_text(encoding="utf-8") == schema.as_str() + "\n", REGENERATE
