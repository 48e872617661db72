"""The stored-segments part of the root types (rules and previews live in
:mod:`tessera.schema.segments.rules`)."""

from __future__ import annotations

from strawberry.tools import merge_types

from tessera.schema.segments.autotags import AutoTagMutation
from tessera.schema.segments.lifecycle import LifecycleMutation, LifecycleQuery
from tessera.schema.segments.mutations import SegmentMutation
from tessera.schema.segments.queries import SegmentQuery

SegmentStoreQuery = merge_types("SegmentStoreQuery", (SegmentQuery, LifecycleQuery))
SegmentStoreMutation = merge_types(
    "SegmentStoreMutation", (SegmentMutation, AutoTagMutation, LifecycleMutation)
)
