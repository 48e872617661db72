"""On random histories of joins and identity changes across three brands of a
tenant, the persons are exactly the connected groups of members over shared
phones and unionids (computed here from the identities, the plain way), and
`rebuild` from scratch gives the same grouping (hypothesis, both databases)."""

from __future__ import annotations

import itertools
from typing import Any

from hypothesis import example, given, settings
from hypothesis import strategies as st
from person_checks import grouping

from tessera.errors import DomainError
from tessera.members import service
from tessera.members.models import Member, MemberIdentity
from tessera.persons import linking
from tessera.persons.models import Person, PersonIdentity, PersonMember
from tessera.scope import BrandScope
from tessera.tenancy.models import Brand, Tenant
from tessera.tenancy.service import create_brand, create_tenant
from tessera.testing import drain_outbox

PHONES = [f"1380013800{n}" for n in range(4)]
UNIONIDS = [f"union-{n}" for n in range(3)]

# (operation, brand, member slot, value index)
steps = st.lists(
    st.tuples(
        st.sampled_from(["join", "add_unionid", "remove_unionid", "change_phone", "drain"]),
        st.integers(0, 2),
        st.integers(0, 2),
        st.integers(0, 3),
    ),
    min_size=1,
    max_size=14,
)
tenants = itertools.count()


async def _apply(brands: list[Brand], members: dict[tuple[int, int], Member], step: Any) -> None:
    op, b, slot, n = step
    scope = BrandScope(brands[b])
    member = members.get((b, slot))
    try:
        if op == "drain":
            await drain_outbox()
        elif op == "join" and member is None:
            identities = [("wechat_unionid", UNIONIDS[n % 3])] if n % 2 else []
            members[(b, slot)] = await service.create_member(
                scope,
                {"phone": PHONES[n], "external_id": f"x-{slot}"},
                identities=identities,
            )
        elif op == "add_unionid" and member is not None:
            await service.add_identity(scope, member.id, "wechat_unionid", UNIONIDS[n % 3])
        elif op == "remove_unionid" and member is not None:
            await service.remove_identity(scope, member.id, "wechat_unionid", UNIONIDS[n % 3])
        elif op == "change_phone" and member is not None:
            await service.update_member(scope, member.id, {"phone": PHONES[n] if n < 3 else None})
    except DomainError:
        pass  # taken in that brand, not held, ...: refused, nothing changed


async def _expected(brands: list[Brand]) -> set[frozenset[int]]:
    """Members grouped by shared linking identities, straight from the identities."""
    parent: dict[int, int] = {}

    def find(x: int) -> int:
        while parent.setdefault(x, x) != x:
            x = parent[x]
        return x

    holder: dict[tuple[str, str], int] = {}
    for brand in brands:
        rows = (
            await BrandScope(brand)
            .query(MemberIdentity)
            .filter(kind__in=["phone", "wechat_unionid"])
        )
        for row in rows:  # values are sealed: the rows reveal them
            first = holder.setdefault((row.kind, row.value), row.member_id)
            parent[find(row.member_id)] = find(first)
    groups: dict[int, set[int]] = {}
    for member_id in list(parent):
        groups.setdefault(find(member_id), set()).add(member_id)
    return {frozenset(g) for g in groups.values()}


@settings(settings.get_profile("database-examples"), max_examples=20)
@given(history=steps)
# Two persons found to share a unionid are joined into the older.
@example(
    history=[
        ("join", 0, 0, 0),
        ("drain", 0, 0, 0),
        ("join", 1, 0, 2),
        ("drain", 0, 0, 0),
        ("add_unionid", 0, 0, 0),
        ("add_unionid", 1, 0, 0),
    ]
)
# A person whose bridging identities go is split; a chain of three brands.
@example(
    history=[
        ("join", 0, 0, 1),
        ("join", 1, 0, 1),
        ("join", 2, 0, 3),
        ("drain", 0, 0, 0),
        ("add_unionid", 2, 0, 1),
        ("drain", 0, 0, 0),
        ("change_phone", 1, 0, 2),
        ("remove_unionid", 1, 0, 1),
    ]
)
def test_persons_are_the_groups_of_shared_identities_and_rebuild_agrees(
    session_loop, tessera_db, history
):
    async def check() -> None:
        code = f"prop-{next(tenants)}"
        await create_tenant(code, code)
        brands = [
            await create_brand(
                code, f"{code}-{i}", f"B{i}", currency="CNY", timezone="Asia/Shanghai"
            )
            for i in range(3)
        ]
        members: dict[tuple[int, int], Member] = {}
        for step in history:
            await _apply(brands, members, step)
        await drain_outbox()
        tenant = await Tenant.get(code=code)
        expected = await _expected(brands)
        assert await grouping(tenant.id) == expected
        await PersonMember.filter(tenant_id=tenant.id).delete()
        await Person.filter(tenant_id=tenant.id).delete()
        await PersonIdentity.filter(tenant_id=tenant.id).delete()
        await linking.rebuild(tenant)
        assert await grouping(tenant.id) == expected

    session_loop.run_until_complete(check())
