"""The caps on one GraphQL document (API.md, Limits), and their error codes.

- Depth: object fields nest at most ``max_depth`` levels. Strawberry's
  QueryDepthLimiter skips ``__``-prefixed fields, so a
  ``__type { ofType { ofType ... } }`` chain would be unbounded; here
  introspection is bounded too, by its own rule: inside ``__schema`` /
  ``__type`` an ``ofType`` step counts against :data:`MAX_OF_TYPE_DEPTH`
  instead of the depth. The standard introspection queries of graphql-js and
  graphql-core (which codegen and GraphiQL send) nest ``ofType`` 9 deep and
  are otherwise 5 levels deep, so they pass at the default caps, while a
  deeper ``ofType`` chain or any other deep nesting is refused.
- Aliases and tokens: counted as strawberry's limiters count them, refused
  with a code like every other refusal.

The rule classes are built once per schema (:func:`limit_extensions`), never
per request: strawberry's ValidationCache keys on the rule classes, so rules
made afresh for each request would never hit the cache.
"""

from __future__ import annotations

from collections.abc import Callable, Iterator
from typing import Any

from graphql import (
    ASTValidationRule,
    FieldNode,
    FragmentDefinitionNode,
    FragmentSpreadNode,
    GraphQLError,
    GraphQLSyntaxError,
    InlineFragmentNode,
    OperationDefinitionNode,
    SelectionSetNode,
    ValidationContext,
    ValidationRule,
)
from strawberry.extensions import AddValidationRules, SchemaExtension
from strawberry.extensions.max_aliases import count_fields_with_alias

from tessera.config import Limits

# graphql-js 16 and graphql-core 3 nest TypeRef's ofType 9 deep; a type like
# [[Int!]!]! needs 6. Deeper chains describe no real type.
MAX_OF_TYPE_DEPTH = 10

QUERY_TOO_DEEP = "QUERY_TOO_DEEP"
INTROSPECTION_TOO_DEEP = "INTROSPECTION_TOO_DEEP"
TOO_MANY_ALIASES = "TOO_MANY_ALIASES"
TOO_MANY_TOKENS = "TOO_MANY_TOKENS"

_INTROSPECTION_ROOTS = frozenset({"__schema", "__type"})


def _measure(
    selection_set: SelectionSetNode | None,
    fragments: dict[str, FragmentDefinitionNode],
    seen: frozenset[str],
    introspection: bool,
) -> tuple[int, int]:
    """(depth, ofType depth) of the deepest path below ``selection_set``."""
    if selection_set is None:
        return 0, 0
    depth = of_type = 0
    for selection in selection_set.selections:
        below_depth = below_of_type = 0
        if isinstance(selection, FieldNode):
            name = selection.name.value
            inside = introspection or name in _INTROSPECTION_ROOTS
            if selection.selection_set:
                below_depth, below_of_type = _measure(
                    selection.selection_set, fragments, seen, inside
                )
                if introspection and name == "ofType":
                    below_of_type += 1
                else:
                    below_depth += 1
        elif isinstance(selection, InlineFragmentNode):
            below_depth, below_of_type = _measure(
                selection.selection_set, fragments, seen, introspection
            )
        elif isinstance(selection, FragmentSpreadNode):
            name = selection.name.value
            fragment = fragments.get(name)
            if fragment is not None and name not in seen:
                below_depth, below_of_type = _measure(
                    fragment.selection_set, fragments, seen | {name}, introspection
                )
        depth = max(depth, below_depth)
        of_type = max(of_type, below_of_type)
    return depth, of_type


def _fragments(context: ValidationContext) -> dict[str, FragmentDefinitionNode]:
    return {
        d.name.value: d
        for d in context.document.definitions
        if isinstance(d, FragmentDefinitionNode)
    }


def depth_rule(max_depth: int, max_of_type_depth: int = MAX_OF_TYPE_DEPTH) -> type[ValidationRule]:
    class MaxDepthRule(ValidationRule):
        def enter_operation_definition(self, node: OperationDefinitionNode, *_: Any) -> None:
            depth, of_type = _measure(
                node.selection_set, _fragments(self.context), frozenset(), False
            )
            name = node.name.value if node.name else "anonymous"
            if depth > max_depth:
                self.report_error(
                    GraphQLError(
                        f"operation '{name}' is {depth} levels deep; "
                        f"the maximum depth is {max_depth}",
                        node,
                        extensions={"code": QUERY_TOO_DEEP},
                    )
                )
            if of_type > max_of_type_depth:
                self.report_error(
                    GraphQLError(
                        f"operation '{name}' nests `ofType` {of_type} deep; "
                        f"the maximum is {max_of_type_depth}",
                        node,
                        extensions={"code": INTROSPECTION_TOO_DEEP},
                    )
                )

    return MaxDepthRule


def alias_rule(max_aliases: int) -> type[ValidationRule]:
    class MaxAliasesRule(ValidationRule):
        def __init__(self, context: ValidationContext) -> None:
            super().__init__(context)
            fragments = _fragments(context)
            count = sum(
                count_fields_with_alias(d, fragments)
                for d in context.document.definitions
                if isinstance(d, OperationDefinitionNode)
            )
            if count > max_aliases:
                context.report_error(
                    GraphQLError(
                        f"the document has {count} aliases; the maximum is {max_aliases}",
                        extensions={"code": TOO_MANY_ALIASES},
                    )
                )

    return MaxAliasesRule


class TokenLimit(SchemaExtension):
    """Stops the parser after ``max_tokens`` tokens and gives the refusal its code."""

    def __init__(self, max_tokens: int) -> None:
        self.max_tokens = max_tokens

    def on_operation(self) -> Iterator[None]:
        context = self.execution_context
        context.parse_options["max_tokens"] = self.max_tokens
        # The parser's error is the one the client gets; label it in place. It
        # arrives thrown (from ParserCache) or collected (from a plain parse).
        try:
            yield
        except GraphQLSyntaxError as thrown:
            self._label(thrown)
            raise
        for collected in context.pre_execution_errors or ():
            if isinstance(collected, GraphQLSyntaxError):
                self._label(collected)

    def _label(self, error: GraphQLError) -> None:
        if f"more than {self.max_tokens} tokens" in error.message:
            error.message = (
                f"the document has more than {self.max_tokens} tokens; "
                f"the maximum is {self.max_tokens}"
            )
            error.extensions = {"code": TOO_MANY_TOKENS}


def limit_extensions(limits: Limits) -> list[Callable[[], SchemaExtension]]:
    """Extension factories for ``strawberry.Schema(extensions=...)``; the rule
    classes are made here, once, and shared by every request."""
    rules: list[type[ASTValidationRule]] = [
        depth_rule(limits.max_depth),
        alias_rule(limits.max_aliases),
    ]
    return [
        lambda: AddValidationRules(rules),
        lambda: TokenLimit(limits.max_tokens),
    ]
