"""The one way the privacy code reads a member's identity values: personal
values are stored sealed (docs/privacy.md), and the rows' ``value`` reveals
them."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime

from tessera.members.service import identities_of
from tessera.scope import BrandScope


@dataclass(frozen=True)
class IdentityValue:
    kind: str
    value: str
    created_at: datetime


async def identity_values(scope: BrandScope, member_id: int) -> list[IdentityValue]:
    """The member's identities in clear, oldest first."""
    rows = (await identities_of(scope, [member_id]))[member_id]
    return [IdentityValue(row.kind, row.value, row.created_at) for row in rows]
