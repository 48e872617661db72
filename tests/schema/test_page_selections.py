"""The members page's preload finds the fields a document selects on its
nodes however it selects them: directly, under aliases, twice, or through
named and inline fragments at any level."""

from __future__ import annotations

from types import SimpleNamespace
from typing import Any

import pytest
from graphql import FieldNode, FragmentDefinitionNode, OperationDefinitionNode, parse
from strawberry.types.nodes import convert_selections

from tessera.schema.members.preload import selected_names


def wanted(document: str) -> set[str]:
    """What the preload reads for ``members`` at ``edges.node`` in ``document``."""
    parsed = parse(document)
    fragments = {
        d.name.value: d for d in parsed.definitions if isinstance(d, FragmentDefinitionNode)
    }
    operation = next(d for d in parsed.definitions if isinstance(d, OperationDefinitionNode))
    members = operation.selection_set.selections[0]
    assert isinstance(members, FieldNode)
    # What info.selected_fields gives the list resolver: its own field's node.
    info: Any = SimpleNamespace(variable_values={}, fragments=fragments)
    return set(selected_names(convert_selections(info, [members]), ["members", "edges", "node"]))


@pytest.mark.parametrize(
    "document",
    [
        "{ members(first: 2) { edges { node { tags { code } stats { ordersCount } phone } } } }",
        "{ members(first: 2) { edges { node { t: tags { code } s: stats { ordersCount } "
        "p: phone tags { name } } } } }",
        "{ members(first: 2) { edges { ...E } } } "
        "fragment E on MemberEdge { node { ...N } } "
        "fragment N on Member { tags { code } ... on Member { stats { ordersCount } phone } }",
        "{ members(first: 2) { ... on MemberConnection { edges { node { tags { code } } } } "
        "edges { node { stats { ordersCount } phone } } } }",
    ],
)
def test_the_fields_selected_on_the_nodes_are_found_however_selected(document):
    assert wanted(document) == {"tags", "stats", "phone"}


def test_fields_selected_elsewhere_are_not_the_nodes_fields():
    document = "{ members(first: 2) { pageInfo { hasNextPage } edges { cursor node { email } } } }"
    assert wanted(document) == {"email"}
