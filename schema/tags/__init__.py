"""Tags and tag groups over GraphQL."""

from __future__ import annotations

from strawberry.tools import merge_types

from tessera.schema.tags.assignments import TagAssignmentMutation
from tessera.schema.tags.mutations import TagMutation
from tessera.schema.tags.queries import TagQuery

TagsQuery = merge_types("TagsQuery", (TagQuery,))
TagsMutation = merge_types("TagsMutation", (TagMutation, TagAssignmentMutation))

__all__ = ["TagsMutation", "TagsQuery"]
