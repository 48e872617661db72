"""Depth limit that also covers introspection.

Strawberry's QueryDepthLimiter skips ``__``-prefixed fields, so a
``__type { ofType { ofType ... } }`` chain would be unbounded; API.md caps
every part of a document, introspection included.
"""

from __future__ import annotations

from typing import Any

from graphql import (
    FieldNode,
    FragmentDefinitionNode,
    FragmentSpreadNode,
    GraphQLError,
    InlineFragmentNode,
    OperationDefinitionNode,
    SelectionSetNode,
    ValidationRule,
)
from strawberry.extensions import AddValidationRules


def _depth(
    selection_set: SelectionSetNode | None,
    fragments: dict[str, Any],
    seen: frozenset[str],
) -> int:
    if selection_set is None:
        return 0
    deepest = 0
    for selection in selection_set.selections:
        if isinstance(selection, FieldNode):
            below = (
                1 + _depth(selection.selection_set, fragments, seen)
                if selection.selection_set
                else 0
            )
        elif isinstance(selection, InlineFragmentNode):
            below = _depth(selection.selection_set, fragments, seen)
        elif isinstance(selection, FragmentSpreadNode):
            name = selection.name.value
            fragment = fragments.get(name)
            below = (
                0
                if fragment is None or name in seen
                else _depth(fragment.selection_set, fragments, seen | {name})
            )
        else:
            below = 0
        deepest = max(deepest, below)
    return deepest


def depth_limit(max_depth: int) -> AddValidationRules:
    class MaxDepthRule(ValidationRule):
        def enter_operation_definition(self, node: OperationDefinitionNode, *_: Any) -> None:
            fragments = {
                f.name.value: f
                for f in self.context.document.definitions
                if isinstance(f, FragmentDefinitionNode)
            }
            depth = _depth(node.selection_set, fragments, frozenset())
            if depth > max_depth:
                name = node.name.value if node.name else "anonymous"
                self.report_error(
                    GraphQLError(
                        f"operation '{name}' is {depth} levels deep; "
                        f"the maximum depth is {max_depth}",
                        node,
                        extensions={"code": "QUERY_TOO_DEEP"},
                    )
                )

    return AddValidationRules([MaxDepthRule])
