"""Members and segments in bulk (a campaign test needs a thousand members:
made one by one through the service they would cost most of the test)."""

from __future__ import annotations

from collections.abc import Awaitable, Callable
from datetime import UTC, datetime
from typing import Any

import pytest

from tessera.members import pii
from tessera.members.models import Member
from tessera.scope import BrandScope
from tessera.segments.models import Segment, SegmentMembership
from tessera.tenancy.models import Brand

BulkMembers = Callable[..., Awaitable[list[int]]]


@pytest.fixture
def bulk_members(tessera_db: Any) -> BulkMembers:
    async def make(brand: Brand, profiles: list[dict[str, Any]]) -> list[int]:
        """Members with these profiles (``email``, ``phone``, ``name``); their ids, in order."""
        scope = BrandScope(brand)
        now = datetime.now(UTC)
        stamp = now.strftime("%H%M%S%f")
        rows = [
            scope.build(
                Member,
                external_id=f"bulk-{stamp}-{i}",
                name=profile.get("name", f"m{i}"),
                joined_at=now,
                **pii.seal_profile(
                    brand.id,
                    brand.identity_key_version,
                    {k: profile.get(k) for k in ("email", "phone")},
                ),
            )
            for i, profile in enumerate(profiles)
        ]
        await scope.insert_many(Member, rows)
        ids = (
            await scope.query(Member)
            .filter(external_id__startswith=f"bulk-{stamp}-")
            .values_list("id", "external_id")
        )
        by_ref = {ref: pk for pk, ref in ids}
        return [by_ref[f"bulk-{stamp}-{i}"] for i in range(len(profiles))]

    return make


@pytest.fixture
def static_segment(tessera_db: Any) -> Callable[..., Awaitable[Segment]]:
    async def make(brand: Brand, name: str, member_ids: list[int]) -> Segment:
        scope = BrandScope(brand)
        segment = await scope.create(Segment, name=name, kind="static", size=len(member_ids))
        now = datetime.now(UTC)
        await scope.insert_many(
            SegmentMembership,
            [
                scope.build(SegmentMembership, segment_id=segment.id, member_id=m, entered_at=now)
                for m in member_ids
            ],
        )
        return segment

    return make
