"""The member growth report's join-day rollup: read through it, the report
equals the same report over the member table whatever days are dirty
(hypothesis: random members, orders arriving late and before a member's
first, imports joining in the past, joins, merges and their undo,
erasures, join source changes, partial rebuilds, on a brand with a daylight
saving time change and one without); and the write paths mark the member's
local join day."""

from __future__ import annotations

import itertools
from datetime import date, datetime, timedelta

from hypothesis import given, settings
from hypothesis import strategies as st
from reports_data import Buy, M, load, report_brand, utc, values

from tessera.errors import DomainError
from tessera.members.batch import MemberDraft, create_members
from tessera.members.identities import IdentityKind
from tessera.members.merge import merge_members, undo_merge
from tessera.members.models import Member
from tessera.members.service import activate_member, create_member, update_member
from tessera.orders.models import Order
from tessera.privacy.erasure import ErasureReason, erase_member
from tessera.reports.api import local_day
from tessera.reports.models import DirtyDay, JoinDay
from tessera.reports.rollup import build, mark_orders_dirty, rebuild_day, rollup_tick
from tessera.reports.service import run_report
from tessera.scope import BrandScope
from tessera.uow import unit_of_work

T0 = utc(2025, 3, 1)
HOURS = 40 * 24
CHANNELS = st.sampled_from(["", "store", "app"])
SOURCES = st.sampled_from(["", "flyer", "friend"])

members = st.lists(
    st.tuples(
        st.integers(-60 * 24, HOURS - 1),  # joined, hours after T0
        st.booleans(),  # a card (else a prospect)
        CHANNELS,
        SOURCES,
    ),
    min_size=1,
    max_size=8,
)
first_orders = st.lists(st.tuples(st.integers(0, 7), st.integers(0, HOURS - 1)), max_size=12)
# Late orders, one batch: some before the member's first, some their first.
late = st.lists(
    st.tuples(st.integers(0, 7), st.integers(-30 * 24, HOURS - 1)), min_size=1, max_size=6
)
member = st.integers(0, 15)
steps = st.lists(
    st.one_of(
        # A late order, possibly before the member's first.
        st.tuples(st.just("order"), member, st.integers(-30 * 24, HOURS - 1)),
        # An import: members joining in the past, in one batch.
        st.tuples(
            st.just("import"),
            st.lists(st.tuples(st.integers(-90 * 24, HOURS - 1), CHANNELS, SOURCES), max_size=3),
        ),
        st.tuples(st.just("signup"), st.integers(-10 * 24, HOURS - 1), CHANNELS, SOURCES),
        st.tuples(st.just("activate"), member),
        st.tuples(st.just("merge"), member, member),
        st.just(("undo",)),
        st.tuples(st.just("erase"), member),
        st.tuples(st.just("source"), member, SOURCES),
        st.tuples(st.just("rebuild"), st.integers(-60, 40)),
    ),
    max_size=8,
)

numbers = itertools.count()


async def late_orders(scope: BrandScope, orders: list[tuple[int, datetime]]) -> None:
    """Orders arriving after the rollup was built, as the order path stores
    them: inserted and marked in one transaction."""
    async with unit_of_work(scope) as uow:
        for member_id, at in orders:
            await scope.create(
                Order,
                using_db=uow.connection,
                member_id=member_id,
                external_id=f"g-late-{next(numbers)}",
                occurred_at=at,
                amount_paid=100,
                retail_amount=100,
                discount=0,
                units=1,
                fingerprint="test",
            )
        await mark_orders_dirty(scope, uow.connection, orders)


async def apply(scope: BrandScope, ids: list[int], step: tuple) -> None:  # type: ignore[type-arg]
    """One change through the service that makes it; refused ones (a
    tombstone merged again, an erased member's update) change nothing."""
    kind = step[0]

    def pick(i: int) -> int:
        return ids[i % len(ids)]

    try:
        if kind == "order":
            await late_orders(scope, [(pick(step[1]), T0 + timedelta(hours=step[2]))])
        elif kind == "import":
            drafts = []
            for hour, channel, source in step[1]:
                ref = f"imp-{next(numbers)}"
                drafts.append(
                    MemberDraft(
                        {"external_id": ref, "join_channel": channel, "join_source": source},
                        [(IdentityKind.EXTERNAL_ID, ref)],
                        joined_at=T0 + timedelta(hours=hour),
                    )
                )
            ids += await create_members(scope, drafts, imported=True)
        elif kind == "signup":
            ref = f"sign-{next(numbers)}"
            created = await create_member(
                scope,
                {"external_id": ref, "join_channel": step[2], "join_source": step[3]},
                joined_at=T0 + timedelta(hours=step[1]),
            )
            ids.append(created.id)
        elif kind == "activate":
            await activate_member(scope, pick(step[1]))
        elif kind == "merge":
            await merge_members(
                scope, pick(step[1]), pick(step[2]), idempotency_key=f"g-{next(numbers)}"
            )
        elif kind == "undo":
            from tessera.members.models import MemberMerge

            done = await scope.query(MemberMerge).filter(undone_at=None).order_by("-id").first()
            if done is not None:
                await undo_merge(scope, done.id)
        elif kind == "erase":
            await erase_member(scope, pick(step[1]), ErasureReason.MEMBER_REQUEST)
        elif kind == "source":
            await update_member(scope, pick(step[1]), {"join_source": step[2] or None})
        elif kind == "rebuild":
            await rebuild_day(scope, date(2025, 3, 1) + timedelta(days=step[1]))
    except DomainError:
        pass


@settings(settings.get_profile("database-examples"), max_examples=50)
@given(
    people=members,
    bought=first_orders,
    later=late,
    changes=steps,
    timezone=st.sampled_from(["Asia/Shanghai", "Europe/Berlin"]),
    granularity=st.sampled_from(["day", "week", "month"]),
    period=st.sampled_from(
        [("2025-03-02", "2025-04-05"), ("2025-03-01", "2025-03-31"), ("2025-03-29", "2025-03-31")]
    ),
)
def test_growth_through_the_rollup_equals_the_members(
    session_loop, tessera_db, people, bought, later, changes, timezone, granularity, period
):
    async def check() -> None:
        brand = await report_brand(timezone=timezone)
        scope = BrandScope(brand)
        ids = await load(
            brand,
            [
                M(T0 + timedelta(hours=h), card=card, join_channel=c, join_source=s)
                for h, card, c, s in people
            ],
            [Buy(i % len(people), T0 + timedelta(hours=h), 100) for i, h in bought],
        )
        await build(scope)
        await late_orders(scope, [(ids[i % len(ids)], T0 + timedelta(hours=h)) for i, h in later])
        for step in changes:
            await apply(scope, ids, step)
        params = {"start": period[0], "end": period[1], "granularity": granularity}
        through = await run_report(scope, "reports.member_growth", params, use_cache=False)
        raw = await run_report(
            scope, "reports.member_growth", params, use_cache=False, rollups=False
        )
        assert values(through.result) == values(raw.result)
        # And once every day is clean: all from the rollup rows.
        await rollup_tick({}, brand.id)
        assert not await scope.query(DirtyDay).exists()
        clean = await run_report(scope, "reports.member_growth", params, use_cache=False)
        assert values(clean.result) == values(raw.result)

    session_loop.run_until_complete(check())


async def rows_of(scope: BrandScope) -> list[tuple[date, str, str, date | None, int]]:
    return sorted(
        (r.day, r.channel, r.source, r.first_order_day, r.members)
        for r in await scope.query(JoinDay).all()
    )


async def test_the_build_counts_members_by_local_join_and_first_order_day(tessera_db):
    """Local days across UTC midnight and a daylight saving change: 30 March
    2025 00:30 UTC is 01:30 in Berlin (CET), 23:30 UTC is 01:30 on 31 March
    (CEST); a member without an order has no first order day."""
    brand = await report_brand(timezone="Europe/Berlin")
    scope = BrandScope(brand)
    await load(
        brand,
        [M(utc(2025, 3, 30, 0, 30), join_channel="app"), M(utc(2025, 3, 30, 23, 30))],
        [Buy(0, utc(2025, 3, 30, 22, 30), 100), Buy(0, utc(2025, 4, 2), 100)],
    )
    await build(scope)
    assert await rows_of(scope) == [
        (date(2025, 3, 30), "app", "", date(2025, 3, 31), 1),
        (date(2025, 3, 31), "", "", None, 1),
    ]
    assert local_day(utc(2025, 3, 30, 22, 30), "Europe/Berlin") == date(2025, 3, 31)


async def test_an_order_before_a_members_first_marks_their_join_day(tessera_db):
    """Only a member's first order ever moves their conversion: a later
    order marks its own day only, an earlier one the join day too."""
    brand = await report_brand(timezone="Asia/Shanghai")
    scope = BrandScope(brand)
    ids = await load(brand, [M(utc(2025, 2, 1, 2))], [Buy(0, utc(2025, 3, 10, 2), 100)])
    await build(scope)
    await late_orders(scope, [(ids[0], utc(2025, 3, 12, 2))])
    assert [d.day for d in await scope.query(DirtyDay).order_by("day")] == [date(2025, 3, 12)]
    await rollup_tick({}, brand.id)
    await late_orders(scope, [(ids[0], utc(2025, 3, 5, 2))])
    # Its own day, the later orders' days (their previous purchase moved)
    # and the join day.
    assert [d.day for d in await scope.query(DirtyDay).order_by("day")] == [
        date(2025, 2, 1),
        date(2025, 3, 5),
        date(2025, 3, 10),
        date(2025, 3, 12),
    ]
    await rollup_tick({}, brand.id)
    assert await rows_of(scope) == [(date(2025, 2, 1), "", "", date(2025, 3, 5), 1)]


async def test_member_writes_mark_the_join_day(tessera_db):
    """A signup, an import in the past, a join source change and an
    erasure each mark the member's local join day, in their transaction;
    the erasure rebuilds the day's join rows too."""
    brand = await report_brand(timezone="Asia/Shanghai")
    scope = BrandScope(brand)

    async def marked() -> list[date]:
        days = [d.day for d in await scope.query(DirtyDay).order_by("day")]
        await scope.query(DirtyDay).delete()
        return days

    signed = await create_member(
        scope,
        {"external_id": "s-1"},
        joined_at=utc(2025, 3, 1, 17),  # 2 March, 01:00 local
    )
    assert await marked() == [date(2025, 3, 2)]
    await create_members(
        scope,
        [MemberDraft({"external_id": "i-1"}, [(IdentityKind.EXTERNAL_ID, "i-1")], utc(2020, 1, 1))],
        imported=True,
    )
    assert await marked() == [date(2020, 1, 1)]
    await update_member(scope, signed.id, {"join_source": "flyer"})
    assert await marked() == [date(2025, 3, 2)]
    await update_member(scope, signed.id, {"name": "Ann"})
    assert await marked() == []
    await erase_member(scope, signed.id, ErasureReason.MEMBER_REQUEST)
    assert await marked() == [date(2025, 3, 2)]
    assert (await scope.get(Member, signed.id)).join_source == ""
    # Its join day summed again in the erasure: "flyer" is gone from the rollup.
    assert await rows_of(scope) == [(date(2025, 3, 2), "", "", None, 1)]


async def test_a_merge_and_its_undo_move_the_conversion_between_join_days(tessera_db):
    """The merged member's orders become the survivor's: the conversion
    moves from the tombstone's join channel to the survivor's, and back on
    undo, through the rollup as over the members."""
    brand = await report_brand(timezone="Asia/Shanghai")
    scope = BrandScope(brand)
    ids = await load(
        brand,
        [M(utc(2025, 3, 5, 2), join_channel="app"), M(utc(2025, 3, 6, 2), join_channel="store")],
        [Buy(0, utc(2025, 3, 10, 2), 100)],
    )
    await build(scope)
    params = {"start": "2025-03-01", "end": "2025-03-31"}

    async def by_channel() -> list[list[object]]:
        through = await run_report(scope, "reports.member_growth", params, use_cache=False)
        raw = await run_report(
            scope, "reports.member_growth", params, use_cache=False, rollups=False
        )
        assert values(through.result) == values(raw.result)
        return [row[:4] for row in through.result.tables[0].rows]

    assert await by_channel() == [["app", "", 1, 1], ["store", "", 1, 0]]
    done = await merge_members(scope, ids[1], ids[0], idempotency_key="g-merge")
    days = {d.day for d in await scope.query(DirtyDay).all()}
    assert {date(2025, 3, 5), date(2025, 3, 6)} <= days
    assert await by_channel() == [["app", "", 1, 0], ["store", "", 1, 1]]
    await rollup_tick({}, brand.id)
    assert await by_channel() == [["app", "", 1, 0], ["store", "", 1, 1]]
    await undo_merge(scope, done.merge.id)
    days = {d.day for d in await scope.query(DirtyDay).all()}
    assert {date(2025, 3, 5), date(2025, 3, 6)} <= days
    await rollup_tick({}, brand.id)
    assert await by_channel() == [["app", "", 1, 1], ["store", "", 1, 0]]
