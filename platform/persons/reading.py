"""Reading persons: a tenant-level view of one shopper's members in each of
the tenant's brands, with figures combined across them (docs/persons.md).

Only a :class:`TenantScope` reads here, and one is made only for a caller
with tenant-wide rights (an API key with the ``persons`` scope, an admin user
who owns every brand of the tenant). Brand keys and member tokens never get
one, so what a brand sees stays its own."""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import datetime
from typing import Any

from tortoise import connections
from tortoise.queryset import QuerySet

from tessera.errors import DomainError
from tessera.members.identities import IdentityKind, normalise
from tessera.persons.linking import LINKING_KINDS, digest
from tessera.persons.models import Person, PersonIdentity, PersonMember
from tessera.scope import SYSTEM, Actor, BrandScope

# A chain of joined persons is followed at most this far (each join points
# straight at the survivor, so one step is the norm).
_MAX_HOPS = 8


@dataclass(frozen=True)
class TenantScope:
    """A tenant, and who reads in it: the one door to persons. ``region``
    reads phone numbers written without ``+`` (the caller's home brand's)."""

    tenant_id: int
    region: str = "CN"
    actor: Actor = field(default=SYSTEM)

    @classmethod
    def of(cls, scope: BrandScope) -> TenantScope:
        """The tenant of ``scope``'s brand. Callers check the caller's
        tenant-wide right first (``persons`` scope, tenant owner)."""
        return cls(scope.brand.tenant_id, scope.brand.default_region, scope.actor)

    def persons(self) -> QuerySet[Person]:
        """The tenant's live persons (not those joined into another)."""
        return Person.filter(tenant_id=self.tenant_id, merged_into_id__isnull=True)


@dataclass(frozen=True)
class BrandMembership:
    """A person's member in one brand, with that brand's figures."""

    person_id: int
    brand_id: int
    brand_code: str
    brand_name: str
    currency: str
    member_id: int
    name: str
    status: str
    joined_at: datetime
    tier_code: str | None
    tier_name: str | None
    orders_count: int
    total_spent: int  # minor units of ``currency``, refunds deducted
    points: int
    first_order_at: datetime | None
    last_order_at: datetime | None


@dataclass(frozen=True)
class CombinedFigures:
    """A person's figures over all of its brands. Spend is summed per
    currency: brands of one tenant may keep different currencies."""

    brands_count: int = 0
    orders_count: int = 0
    spent_by_currency: dict[str, int] = field(default_factory=dict)
    first_order_at: datetime | None = None
    last_order_at: datetime | None = None


async def person(tenant: TenantScope, person_id: int) -> Person | None:
    """The person by id; the id of a person since joined into another finds
    the survivor."""
    found = await Person.get_or_none(tenant_id=tenant.tenant_id, id=person_id)
    hops = 0
    while found is not None and found.merged_into_id is not None and hops < _MAX_HOPS:
        found = await Person.get_or_none(tenant_id=tenant.tenant_id, id=found.merged_into_id)
        hops += 1
    return found


def _linking_kind(kind: str) -> IdentityKind:
    try:
        identity_kind = IdentityKind(kind)
    except ValueError:
        raise DomainError("INVALID", f"unknown identity kind {kind!r}", ["kind"]) from None
    if identity_kind not in LINKING_KINDS:
        names = ", ".join(sorted(k.name for k in LINKING_KINDS))
        raise DomainError("INVALID", f"persons are found by a linking identity ({names})", ["kind"])
    return identity_kind


async def person_by_identity(tenant: TenantScope, kind: str, value: str) -> Person | None:
    """The person holding this identity in any brand of the tenant (the
    value is normalised as members' identities are, then digested)."""
    identity_kind = _linking_kind(kind)
    normalised = normalise(identity_kind, value, tenant.region, ["value"])
    member_ids = await PersonIdentity.filter(
        tenant_id=tenant.tenant_id,
        kind=identity_kind.value,
        digest=digest(tenant.tenant_id, identity_kind, normalised),
    ).values_list("member_id", flat=True)
    if not member_ids:
        return None
    link = await PersonMember.filter(tenant_id=tenant.tenant_id, member_id__in=member_ids).first()
    return await person(tenant, link.person_id) if link else None


async def person_of_member(tenant: TenantScope, member_id: int) -> Person | None:
    """The person a member of one of the tenant's brands belongs to."""
    link = await PersonMember.get_or_none(tenant_id=tenant.tenant_id, member_id=member_id)
    return await person(tenant, link.person_id) if link else None


def _as_datetime(value: Any) -> datetime | None:
    # SQLite hands datetime columns of hand-written SQL back as text.
    if value is None or isinstance(value, datetime):
        return value
    return datetime.fromisoformat(str(value))


# Every statement joins through brand.tenant_id = the scope's tenant, so a
# person row of another tenant (which no link should point at) still shows
# nothing of it.
_MEMBERSHIPS = """
SELECT pm.person_id, b.id AS brand_id, b.code AS brand_code, b.name AS brand_name,
       b.currency, m.id AS member_id, m.name, m.status, m.joined_at,
       td.code AS tier_code, td.name AS tier_name,
       COALESCE(s.orders_count, 0) AS orders_count,
       COALESCE(s.gross_spent, 0) - COALESCE(s.refunded_total, 0) AS total_spent,
       COALESCE(a.balance, 0) AS points,
       s.first_order_at, s.last_order_at
FROM person_member pm
JOIN brand b ON b.id = pm.brand_id AND b.tenant_id = {t}
JOIN member m ON m.id = pm.member_id AND m.brand_id = pm.brand_id
LEFT JOIN member_stats s ON s.member_id = m.id AND s.brand_id = m.brand_id
LEFT JOIN member_tier_state ts ON ts.member_id = m.id AND ts.brand_id = m.brand_id
LEFT JOIN tier_definition td ON td.id = ts.tier_id AND td.brand_id = m.brand_id
LEFT JOIN asset_account a ON a.member_id = m.id AND a.brand_id = m.brand_id
     AND a.kind = 'points'
WHERE pm.tenant_id = {t} AND pm.person_id IN ({ids})
ORDER BY pm.person_id, b.code, m.id
"""

_COMBINED = """
SELECT pm.person_id, b.currency,
       COUNT(DISTINCT pm.brand_id) AS brands_count,
       SUM(COALESCE(s.orders_count, 0)) AS orders_count,
       SUM(COALESCE(s.gross_spent, 0) - COALESCE(s.refunded_total, 0)) AS total_spent,
       MIN(s.first_order_at) AS first_order_at,
       MAX(s.last_order_at) AS last_order_at
FROM person_member pm
JOIN brand b ON b.id = pm.brand_id AND b.tenant_id = {t}
LEFT JOIN member_stats s ON s.member_id = pm.member_id AND s.brand_id = pm.brand_id
WHERE pm.tenant_id = {t} AND pm.person_id IN ({ids})
GROUP BY pm.person_id, b.currency
"""


async def _rows(tenant: TenantScope, sql: str, person_ids: list[int]) -> list[dict[str, Any]]:
    if not person_ids:
        return []
    connection = connections.get("default")
    postgres = connection.capabilities.dialect == "postgres"
    if postgres:
        ids = ", ".join(f"${i + 2}" for i in range(len(person_ids)))
        text = sql.format(t="$1", ids=ids)
        params: list[Any] = [tenant.tenant_id, *person_ids]
    else:
        text = sql.format(t="?", ids=", ".join("?" for _ in person_ids))
        # SQLite binds in order: the brand join's tenant, then the WHERE's.
        params = [tenant.tenant_id, tenant.tenant_id, *person_ids]
    return await connection.execute_query_dict(text, params)


async def memberships(
    tenant: TenantScope, person_ids: list[int]
) -> dict[int, list[BrandMembership]]:
    """Each person's members, brand by brand, in one query."""
    result: dict[int, list[BrandMembership]] = {pk: [] for pk in person_ids}
    for row in await _rows(tenant, _MEMBERSHIPS, person_ids):
        result[int(row["person_id"])].append(
            BrandMembership(
                person_id=int(row["person_id"]),
                brand_id=int(row["brand_id"]),
                brand_code=row["brand_code"],
                brand_name=row["brand_name"],
                currency=row["currency"],
                member_id=int(row["member_id"]),
                name=row["name"],
                status=row["status"],
                joined_at=_as_datetime(row["joined_at"]),  # type: ignore[arg-type]
                tier_code=row["tier_code"],
                tier_name=row["tier_name"],
                orders_count=int(row["orders_count"]),
                total_spent=int(row["total_spent"]),
                points=int(row["points"]),
                first_order_at=_as_datetime(row["first_order_at"]),
                last_order_at=_as_datetime(row["last_order_at"]),
            )
        )
    return result


async def combined(tenant: TenantScope, person_ids: list[int]) -> dict[int, CombinedFigures]:
    """Each person's figures over its brands, aggregated in SQL per currency
    (a person's brands keep one or two currencies, so a row or two each)."""
    parts: dict[int, list[dict[str, Any]]] = {pk: [] for pk in person_ids}
    for row in await _rows(tenant, _COMBINED, person_ids):
        parts[int(row["person_id"])].append(row)
    result: dict[int, CombinedFigures] = {}
    for pk, rows in parts.items():
        firsts = [t for r in rows if (t := _as_datetime(r["first_order_at"])) is not None]
        lasts = [t for r in rows if (t := _as_datetime(r["last_order_at"])) is not None]
        result[pk] = CombinedFigures(
            brands_count=sum(int(r["brands_count"]) for r in rows),
            orders_count=sum(int(r["orders_count"]) for r in rows),
            spent_by_currency={str(r["currency"]): int(r["total_spent"]) for r in rows},
            first_order_at=min(firsts, default=None),
            last_order_at=max(lasts, default=None),
        )
    return result
