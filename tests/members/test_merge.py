"""Merging two members of a brand through the service: everything adds up,
the tombstone resolves to the survivor for reads and writes, replays and
refusals."""

from __future__ import annotations

import itertools
from collections import Counter
from datetime import timedelta

import jsonschema
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st
from merge_helpers import (
    History,
    coupon_template,
    figures,
    give,
    ledger_problems,
    lots_of,
    put_in_debt,
)

from tessera.assets import service as assets
from tessera.audit.models import AuditLogEntry
from tessera.errors import DomainError
from tessera.members import merge
from tessera.members.attributes import AttributeType, DefinitionValues, create_definition
from tessera.members.models import Member, MemberIdentity, MemberMerge
from tessera.members.service import add_identity, create_member, find_by_identity
from tessera.scope import BrandScope
from tessera.tags.service import create_tag
from tessera.testing import drain_outbox, make_brand

brand_numbers = itertools.count()


async def two_members(scope: BrandScope, **older: object) -> tuple[int, int]:
    n = next(brand_numbers)
    a = await create_member(
        scope, {"name": "Li Lei", **older}, identities=[("app_user_id", f"a{n}")]
    )
    b = await create_member(
        scope, {"name": "Lei Li", "city": "Shanghai"}, identities=[("app_user_id", f"b{n}")]
    )
    return a.id, b.id


async def test_a_merge_moves_everything_and_the_ledger_still_verifies(brand_a):
    scope = BrandScope(brand_a)
    template = await coupon_template(scope)
    for code in ("vip", "new"):
        await create_tag(scope, code, code)
    s, m = await two_members(scope, phone="13800138000")
    await give(
        scope,
        s,
        History(earn=[100], redeem=[30], top_up=[500], orders=[10], tags=["vip"]),
        template,
    )
    await give(
        scope,
        m,
        History(
            earn=[50, 70],
            growth=[9],
            spend=[],
            top_up=[200],
            orders=[20, 5],
            events=2,
            coupons=1,
            tags=["vip", "new"],
        ),
        template,
    )
    before = await figures(scope, [s, m])

    result = await merge.merge_members(scope, s, m, idempotency_key="k1")

    after = await figures(scope, [s])
    # One zero-amount merge entry per kind the merged member had.
    merge_entries = {k: n for k, n in after["entries"].items() if k[1] == "merge"}
    assert merge_entries == {
        ("points", "merge"): 1,
        ("stored_value", "merge"): 1,
        ("growth", "merge"): 1,
    }
    for k in merge_entries:
        del after["entries"][k]
    assert after == before
    assert await ledger_problems(scope) == []
    assert await lots_of(scope, s) == after["points"]
    tomb = await Member.get(id=m)
    assert (tomb.status, tomb.merged_into_id) == ("merged", s)
    survivor = await Member.get(id=s)
    # Survivor wins, empty fields are filled, both-set fields are conflicts.
    assert (survivor.name, survivor.city, survivor.phone) == (
        "Li Lei",
        "Shanghai",
        "+8613800138000",
    )
    assert [c.field for c in result.conflicts] == ["name"]
    assert result.conflicts[0].dropped == "Lei Li"
    entry = await AuditLogEntry.filter(brand_id=brand_a.id, action="member.merge").get()
    assert entry.details["conflicts"][0]["field"] == "name"
    assert entry.details["moved"]["orders"] == 2


async def test_a_debt_is_paid_from_the_other_members_points(brand_a):
    scope = BrandScope(brand_a)
    s, m = await two_members(scope)
    await put_in_debt(scope, s, 40)
    await assets.earn_points(scope, m, 100, idempotency_key="m", reason="t", source_type="t")
    await merge.merge_members(scope, s, m, idempotency_key="debt-merge")
    balance = (await assets.balances(scope, [s]))[s]
    assert balance.points == 60
    assert await lots_of(scope, s) == 60
    assert await ledger_problems(scope) == []


async def test_the_tombstone_resolves_to_the_survivor_for_reads_and_writes(brand_a):
    scope = BrandScope(brand_a)
    s, m = await two_members(scope)
    earned = await assets.earn_points(
        scope, m, 10, idempotency_key="before", reason="t", source_type="t"
    )
    (identity,) = await MemberIdentity.filter(member_id=m, kind="app_user_id")
    kind, value = identity.kind, identity.value  # sealed: the row reveals it
    await merge.merge_members(scope, s, m, idempotency_key="k")

    assert await merge.resolve(scope, m) == s
    found = await find_by_identity(scope, kind, value)
    assert found is not None and found.id == s
    # A write to the old id lands on the survivor, and replays with the same
    # key and id answer the first result, before and after the merge.
    after = await assets.earn_points(
        scope, m, 5, idempotency_key="after", reason="t", source_type="t"
    )
    assert after.entry.member_id == s and after.balance == 15
    again = await assets.earn_points(
        scope, m, 5, idempotency_key="after", reason="t", source_type="t"
    )
    assert again.replayed and again.entry.id == after.entry.id
    replay = await assets.earn_points(
        scope, m, 10, idempotency_key="before", reason="t", source_type="t"
    )
    assert replay.replayed and replay.entry.id == earned.entry.id
    redeemed = await assets.redeem_points(
        scope, m, 15, idempotency_key="r", reason="t", source_type="t"
    )
    # Member writes by the old id too.
    changed = await add_identity(scope, m, "email", "late@example.com")
    assert changed.id == s and changed.email == "late@example.com"
    assert redeemed.balance == 0
    assert await ledger_problems(scope) == []


async def test_replaying_the_key_answers_the_first_merge(brand_a):
    scope = BrandScope(brand_a)
    s, m = await two_members(scope)
    first = await merge.merge_members(scope, s, m, idempotency_key="same")
    again = await merge.merge_members(scope, s, m, idempotency_key="same")
    assert again.replayed and again.merge.id == first.merge.id
    assert await MemberMerge.filter(brand_id=brand_a.id).count() == 1
    other, _ = await two_members(scope)
    with pytest.raises(DomainError) as refused:
        await merge.merge_members(scope, other, s, idempotency_key="same")
    assert refused.value.code == "IDEMPOTENCY_CONFLICT"


@pytest.mark.parametrize(
    ("case", "code", "field"),
    [
        ("self", "MERGE_SELF", ["mergedId"]),
        ("into_tombstone", "MEMBER_MERGED", ["survivorId"]),
        ("from_tombstone", "MEMBER_MERGED", ["mergedId"]),
        ("other_brand", "NOT_FOUND", ["mergedId"]),
        ("unknown", "NOT_FOUND", ["survivorId"]),
    ],
)
async def test_refusals_name_the_field_and_change_nothing(brand_a, brand_b, case, code, field):
    scope = BrandScope(brand_a)
    s, m = await two_members(scope)
    t, _ = await two_members(scope)
    await merge.merge_members(scope, t, m, idempotency_key="setup")
    foreign, _ = await two_members(BrandScope(brand_b))
    survivor, merged = {
        "self": (s, s),
        "into_tombstone": (m, s),
        "from_tombstone": (s, m),
        "other_brand": (s, foreign),
        "unknown": (10**12, s),
    }[case]
    with pytest.raises(DomainError) as refused:
        await merge.merge_members(scope, survivor, merged, idempotency_key=f"bad-{case}")
    assert (refused.value.code, refused.value.field) == (code, field)
    assert await MemberMerge.filter(brand_id=brand_a.id).count() == 1
    assert (await Member.get(id=s)).status == "active"


history = st.builds(
    History,
    earn=st.lists(st.integers(1, 500), max_size=3),
    redeem=st.lists(st.integers(1, 300), max_size=2),
    top_up=st.lists(st.integers(1, 10_000), max_size=2),
    spend=st.lists(st.integers(1, 5_000), max_size=2),
    growth=st.lists(st.integers(1, 100), max_size=2),
    orders=st.lists(st.integers(1, 300), max_size=3),
    events=st.integers(0, 2),
    coupons=st.integers(0, 2),
    tags=st.lists(st.sampled_from(["t1", "t2", "t3"]), max_size=2, unique=True),
    attributes=st.dictionaries(st.sampled_from(["a1", "a2", "a3"]), st.sampled_from(["x", "y"])),
)


@settings(settings.get_profile("database-examples"), max_examples=12)
@given(ours=history, theirs=history, debt=st.integers(0, 200))
def test_every_balance_count_and_statistic_is_the_sum_of_the_two(
    session_loop, tessera_db, ours, theirs, debt
):
    async def check() -> None:
        brand = await make_brand(f"merge-{next(brand_numbers)}")
        scope = BrandScope(brand)
        template = await coupon_template(scope)
        for code in ("t1", "t2", "t3"):
            await create_tag(scope, code, code)
        for key in ("a1", "a2", "a3"):
            await create_definition(scope, key, AttributeType.STRING, DefinitionValues(key))
        s, m = await two_members(scope)
        await give(scope, s, ours, template)
        await give(scope, m, theirs, template)
        if debt:
            await put_in_debt(scope, m, debt)
        await drain_outbox()
        before = await figures(scope, [s, m])
        done = await merge.merge_members(scope, s, m, idempotency_key="merge")
        await drain_outbox()
        # Attributes: the survivor's win, gaps are filled, differences reported.
        survivor = await Member.get(id=s)
        assert survivor.attributes == {**theirs.attributes, **ours.attributes}
        differing = {k for k, v in theirs.attributes.items() if ours.attributes.get(k, v) != v}
        assert {c.field for c in done.conflicts} == {
            "name",
            *(f"attributes.{k}" for k in differing),
        }
        after = await figures(scope, [s])
        after["entries"] = Counter({k: n for k, n in after["entries"].items() if k[1] != "merge"})
        assert after == before
        assert await ledger_problems(scope) == []
        assert await lots_of(scope, s) == max(after["points"], 0)
        assert await figures(scope, [m]) == {
            **{k: 0 for k in before},
            "entries": Counter(),
            "tags": set(),
        }

    session_loop.run_until_complete(check())


async def test_undo_puts_back_exactly_what_moved(brand_a):
    scope = BrandScope(brand_a)
    template = await coupon_template(scope)
    await create_tag(scope, "vip", "vip")
    s, m = await two_members(scope, phone="13800138000")
    await give(
        scope, s, History(earn=[100], top_up=[50], orders=[10], tags=["vip"], coupons=1), template
    )
    await give(
        scope,
        m,
        History(earn=[70], growth=[5], orders=[20], events=1, coupons=1, tags=["vip"]),
        template,
    )
    first = {member: await figures(scope, [member]) for member in (s, m)}
    done = await merge.merge_members(scope, s, m, idempotency_key="u")
    undone = await merge.undo_merge(scope, done.merge.id)
    assert undone.restored.status == "active" and undone.restored.merged_into_id is None
    for member in (s, m):
        now = await figures(scope, [member])
        now["entries"] = Counter({k: n for k, n in now["entries"].items() if k[1] != "merge"})
        assert now == first[member], member
    assert await ledger_problems(scope) == []
    assert await lots_of(scope, m) == 70
    assert (await Member.get(id=m)).status == "active"
    # Undoing again answers the same; merging again works.
    again = await merge.undo_merge(scope, done.merge.id)
    assert again.merge.undone_at is not None
    redo = await merge.merge_members(scope, s, m, idempotency_key="u2")
    assert not redo.replayed


async def test_undo_is_refused_once_value_moved_on_the_survivor(brand_a):
    scope = BrandScope(brand_a)
    s, m = await two_members(scope)
    await assets.earn_points(scope, m, 70, idempotency_key="m", reason="t", source_type="t")
    done = await merge.merge_members(scope, s, m, idempotency_key="u")
    await assets.redeem_points(scope, s, 60, idempotency_key="spend", reason="t", source_type="t")
    with pytest.raises(DomainError) as refused:
        await merge.undo_merge(scope, done.merge.id)
    assert (refused.value.code, refused.value.field) == ("UNDO_BLOCKED", ["mergeId"])
    late = done.merge.merged_at + merge.UNDO_WINDOW + timedelta(seconds=1)
    assert "7 days" in (await merge.undo_blocker(scope, done.merge, late) or "")


async def test_the_tier_is_recomputed_once_by_the_active_policy(brand_a, record_events):
    # Gold from 1,000 of spend in 12 months: 600 each is silver, together gold.
    import sys
    from pathlib import Path

    sys.path.insert(0, str(Path(__file__).parents[1] / "rewards"))
    from loyalty_programme import standard_programme

    from tessera.tiers.models import MemberTierState, TierHistory
    from tessera.webhooks.events import body, json_schema

    tiers = await standard_programme(brand_a)
    recorder = await record_events(brand_a)
    scope = BrandScope(brand_a)
    s, m = await two_members(scope)
    template = await coupon_template(scope)
    await give(scope, s, History(orders=[600]), template)
    await give(scope, m, History(orders=[600]), template)
    await drain_outbox()
    states = {st.member_id: st.tier_id for st in await MemberTierState.filter(brand_id=brand_a.id)}
    assert states == {s: tiers["silver"].id, m: tiers["silver"].id}

    done = await merge.merge_members(scope, s, m, idempotency_key="tier")
    await drain_outbox()
    state = await MemberTierState.get(member_id=s)
    assert state.tier_id == tiers["gold"].id
    assert not await MemberTierState.filter(member_id=m).exists()
    upgrades = await TierHistory.filter(member_id=s, source=f"merge:{done.merge.id}")
    assert [h.to_tier_id for h in upgrades] == [tiers["gold"].id]  # once
    [event] = recorder.named("member.merged")
    assert event.payload == {
        "member_id": s,
        "merged_member_id": m,
        "merge_id": done.merge.id,
        "automatic": False,
        "conflicts": ["name"],
    }
    webhook = body("d", "member.merged", done.merge.merged_at, brand_a.code, event.payload)
    jsonschema.validate(webhook, json_schema("member.merged"))
    assert await ledger_problems(scope) == []


async def test_the_tombstone_leaves_every_segment(brand_a):
    from tessera.segments import service as segments
    from tessera.segments.models import SegmentMembership

    scope = BrandScope(brand_a)
    s, m = await two_members(scope)  # m lives in Shanghai, s has no city
    rule = {"type": "profile", "field": "city", "in": ["Shanghai"]}
    segment = await segments.create_segment(scope, "SH", segments.SegmentKind.DYNAMIC, rule=rule)
    await segments.refresh_segment(scope, segment.id)
    assert await SegmentMembership.filter(segment_id=segment.id).values_list(
        "member_id", flat=True
    ) == [m]
    await merge.merge_members(scope, s, m, idempotency_key="seg")
    await drain_outbox()
    await segments.refresh_segment(scope, segment.id)
    # The survivor took the city; the tombstone, which still has it, is out.
    assert await SegmentMembership.filter(segment_id=segment.id).values_list(
        "member_id", flat=True
    ) == [s]
