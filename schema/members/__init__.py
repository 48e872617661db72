"""Members over GraphQL: types, queries, mutations, filters, dataloaders,
custom attribute definitions, scheme settings and member sessions."""

from __future__ import annotations

from strawberry.tools import merge_types

from tessera.schema.members.attributes import AttributeDefinitionMutation, AttributeDefinitionQuery
from tessera.schema.members.merge import MergeMutation, MergeQuery
from tessera.schema.members.mutations import MemberMutation
from tessera.schema.members.queries import MemberQuery
from tessera.schema.members.session import MemberSessionMutation, MemberSessionQuery
from tessera.schema.members.settings import MemberSettingsMutation, MemberSettingsQuery

MembersQuery = merge_types(
    "MembersQuery",
    (MemberQuery, MemberSessionQuery, AttributeDefinitionQuery, MemberSettingsQuery, MergeQuery),
)
MembersMutation = merge_types(
    "MembersMutation",
    (
        MemberMutation,
        MemberSessionMutation,
        AttributeDefinitionMutation,
        MemberSettingsMutation,
        MergeMutation,
    ),
)

__all__ = ["MembersMutation", "MembersQuery"]
