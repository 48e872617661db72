"""The demo brand generator: realistic, deterministic, and stored exactly as
the services store it (statistics equal a rebuild from the orders)."""

from __future__ import annotations

import re
from datetime import UTC, datetime

import phonenumbers

from tessera import demo_data
from tessera.behaviour.models import BehaviourEvent
from tessera.demo_data import generate
from tessera.members.cards import is_valid_card
from tessera.members.models import Member, MemberIdentity
from tessera.orders.models import MemberStats, Order, OrderLine, Refund
from tessera.orders.stats import rebuild_stats
from tessera.scope import BrandScope
from tessera.tags.models import TagAssignment
from tessera.tenancy.models import Brand
from tessera.testing import make_brand, run_cli

NOW = datetime(2025, 6, 1, 12, 0, tzinfo=UTC)
STATS = (
    "member_id", "orders_count", "gross_spent", "units_bought", "first_order_at",
    "last_order_at", "refunds_count", "refunded_total", "refunded_units",
)  # fmt: skip


async def stats_rows(scope: BrandScope) -> list[tuple[object, ...]]:
    return [
        tuple(row)
        for row in await scope.query(MemberStats).order_by("member_id").values_list(*STATS)
    ]


async def test_a_generated_brand_is_realistic_and_its_statistics_equal_a_rebuild(
    brand_a, monkeypatch
):
    scope = BrandScope(brand_a)
    # Small chunks, so several are written at once as with a big brand.
    monkeypatch.setattr(demo_data, "CHUNK", 25)

    report = await generate(scope, 120, seed=3, now=NOW, refund_rate=0.2)

    assert report.members == 120 and report.orders > 100 and report.events > 100
    assert report.refunds > 0
    members = await scope.query(Member).all()
    assert len(members) == 120
    assert any(re.search(r"[\u4e00-\u9fff]", m.name) for m in members)
    assert any(re.fullmatch(r"[A-Za-z]+ [A-Za-z]+", m.name) for m in members)
    phones = [m.phone for m in members if m.phone]
    assert len(phones) > 100 and len(set(phones)) == len(phones)
    assert all(phonenumbers.is_valid_number(phonenumbers.parse(p)) for p in phones)
    assert all(phonenumbers.region_code_for_number(phonenumbers.parse(p)) == "CN" for p in phones)
    assert all(m.card_number and is_valid_card(m.card_number) for m in members)
    assert all(m.joined_at <= NOW for m in members)
    # Every primary value is also an identity, as createMember stores it.
    identities = {(i.member_id, i.kind, i.value) for i in await scope.query(MemberIdentity)}
    for m in members:
        for kind in ("phone", "email", "external_id", "card_number"):
            if getattr(m, kind):
                assert (m.id, kind, getattr(m, kind)) in identities
    groups = set(await scope.query(TagAssignment).values_list("tag__group__code", flat=True))
    assert {"value", "preference", "channel"} <= groups
    assert len(set(await scope.query(OrderLine).values_list("category", flat=True))) >= 5
    assert len(set(await scope.query(Order).values_list("store_code", flat=True))) >= 10
    times = await scope.query(Order).values_list("occurred_at", flat=True)
    assert (NOW - min(times)).days > 365  # orders spread over two years
    assert await scope.query(Refund).exists()
    assert len(set(await scope.query(BehaviourEvent).values_list("type", flat=True))) >= 5

    counted = await stats_rows(scope)
    assert len(counted) == len(set(await scope.query(Order).values_list("member_id", flat=True)))
    await rebuild_stats(scope)
    assert await stats_rows(scope) == counted


async def test_the_same_seed_gives_the_same_brand_and_is_not_added_twice(brand_a):
    other = await make_brand("brand-c")
    first, second = BrandScope(brand_a), BrandScope(other)
    await generate(first, 40, seed=9, now=NOW)
    await generate(second, 40, seed=9, now=NOW)

    async def picture(scope: BrandScope) -> list[object]:
        return [
            [
                (m.external_id, m.name, m.phone, m.email, m.birthday, m.joined_at, m.city)
                for m in await scope.query(Member).order_by("external_id")
            ],
            await scope.query(Order).order_by("external_id").values_list(
                "external_id", "member__external_id", "amount_paid", "occurred_at", "store_code"
            ),
            await scope.query(TagAssignment).order_by("member__external_id", "tag__code")
            .values_list("member__external_id", "tag__code"),
        ]  # fmt: skip

    assert await picture(first) == await picture(second)
    again = await generate(first, 40, seed=9, now=NOW)
    assert again.skipped and again.members == 0
    assert await first.query(Member).count() == 40


async def test_tessera_demo_members_generates_with_a_progress_bar(
    tessera_db, tessera_database_url, tmp_path
):
    done = await run_cli(tessera_database_url, tmp_path, "demo", "--members", "15")

    assert done.returncode == 0, done.stderr
    assert "demo members" in done.stderr and "15/15" in done.stderr
    assert "generated 15 members" in done.stderr
    demo = await Brand.get(code="demo")
    assert await BrandScope(demo).query(Member).count() == 15
