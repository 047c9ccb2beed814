"""GraphQL resource limits, applied during validation, before any resolver runs.

Strawberry's ``ValidationCache`` keys its cache on the document *and* the tuple of
validation rule classes. ``QueryDepthLimiter`` and ``MaxAliasesLimiter`` create a new
rule class per instance, so building them per request (the usual factory pattern) would
make every request a cache miss. The rule classes are therefore built once per schema and
handed to a fresh ``AddValidationRules`` extension per request.
"""

from __future__ import annotations

from collections.abc import Callable

from graphql import ASTValidationRule
from graphql.validation import NoSchemaIntrospectionCustomRule
from strawberry.extensions import (
    AddValidationRules,
    MaxAliasesLimiter,
    MaxTokensLimiter,
    ParserCache,
    QueryDepthLimiter,
    SchemaExtension,
    ValidationCache,
)

CACHED_DOCUMENTS = 256


def limit_extensions(
    *, max_depth: int, max_aliases: int, max_tokens: int, introspection: bool
) -> list[Callable[[], SchemaExtension]]:
    rules: list[type[ASTValidationRule]] = [
        *QueryDepthLimiter(max_depth=max_depth).validation_rules,
        *MaxAliasesLimiter(max_alias_count=max_aliases).validation_rules,
    ]
    if not introspection:
        rules.append(NoSchemaIntrospectionCustomRule)
    return [
        lambda: MaxTokensLimiter(max_token_count=max_tokens),
        lambda: ParserCache(maxsize=CACHED_DOCUMENTS),
        lambda: AddValidationRules(rules),
        lambda: ValidationCache(maxsize=CACHED_DOCUMENTS),
    ]
