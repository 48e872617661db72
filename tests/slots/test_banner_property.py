"""Banner choice, as a property: whatever the creatives and the member, the
creative shown is a highest-priority one among those whose audience and
window contain the member (an A/B group showing one of its variants), and
the fallback shows exactly when none does."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

from hypothesis import given, settings
from hypothesis import strategies as st

from tessera import BannerCreative, SlotMember
from tessera.plugins.slots.banner import choose, in_audience, in_window

NOW = datetime(2026, 6, 1, 12, tzinfo=UTC)
TAGS = ("vip", "new", "gold-fan")
TIERS = ("silver", "gold")
STAGES = ("new", "active", "churned")


@st.composite
def creatives(draw: st.DrawFn) -> list[BannerCreative]:
    made = []
    for n in range(draw(st.integers(0, 8))):
        kind = draw(st.sampled_from(("everyone", "segment", "tags", "tier", "lifecycle")))
        values: tuple[str, ...] = ()
        if kind == "tags":
            values = tuple(draw(st.sets(st.sampled_from(TAGS), min_size=1)))
        elif kind == "tier":
            values = tuple(draw(st.sets(st.sampled_from(TIERS), min_size=1)))
        elif kind == "lifecycle":
            values = tuple(draw(st.sets(st.sampled_from(STAGES), min_size=1)))
        start = draw(st.one_of(st.none(), st.integers(-3, 3)))
        length = draw(st.integers(1, 4))
        made.append(
            BannerCreative(
                id=n + 1,
                title=f"c{n + 1}",
                image_url="https://x.example/i.jpg",
                link="/",
                alt_text="alt",
                audience_kind=kind,
                audience_values=values,
                segment_id=draw(st.sampled_from((1, 2, 3))) if kind == "segment" else None,
                starts_at=NOW + timedelta(days=start) if start is not None else None,
                ends_at=NOW + timedelta(days=start + length) if start is not None else None,
                priority=draw(st.integers(0, 5)),
                split_group=draw(st.sampled_from(("", "", "ab"))),
                split_weight=draw(st.integers(1, 3)),
                fallback=draw(st.booleans()),
            )
        )
    return made


members = st.builds(
    SlotMember,
    id=st.integers(1, 10_000),
    tags=st.frozensets(st.sampled_from(TAGS)),
    tier=st.one_of(st.none(), st.sampled_from(TIERS)),
    lifecycle_stage=st.one_of(st.none(), st.sampled_from(STAGES)),
    segments=st.frozensets(st.sampled_from((1, 2, 3))),
)


@settings(max_examples=300)
@given(creatives(), st.one_of(st.none(), members), st.frozensets(st.sampled_from((1, 2, 3))))
def test_the_chosen_creative_is_the_highest_priority_one_that_holds_the_member(
    pool: list[BannerCreative], member: SlotMember | None, missing: frozenset[int]
) -> None:
    entries = choose(pool, member, NOW, "home_top", missing=missing)
    holding = [
        c for c in pool if not c.fallback and in_window(c, NOW) and in_audience(c, member, missing)
    ]
    by_id = {c.id: c for c in pool}
    if holding:
        [entry] = entries
        chosen = by_id[int(entry.ref)]
        top = max(c.priority for c in holding)
        assert chosen in holding and chosen.priority == top
        if not chosen.split_group:
            # Ties go to the oldest creative.
            assert chosen.id == min(c.id for c in holding if c.priority == top)
        assert entries == choose(pool, member, NOW, "home_top", missing=missing)
    else:
        fallbacks = [c for c in pool if c.fallback and in_window(c, NOW)]
        assert [int(e.ref) for e in entries] == (
            [min(fallbacks, key=lambda c: (-c.priority, c.id)).id] if fallbacks else []
        )
        assert all(e.reason == "fallback" for e in entries)


@settings(max_examples=100)
@given(st.integers(1, 10**9))
def test_a_member_keeps_their_variant_and_weights_share_members(member_id: int) -> None:
    variants = [
        BannerCreative(
            n, f"v{n}", "https://x/i", "/", "alt", "everyone", (), None, None, None, 1, "ab", w
        )
        for n, w in ((1, 1), (2, 3))
    ]
    member = SlotMember(id=member_id)
    first = choose(variants, member, NOW, "home_top")
    assert first == choose(list(reversed(variants)), member, NOW, "home_top")
    assert first[0].variant == f"ab:{first[0].ref}"


def test_weights_split_members_in_proportion() -> None:
    variants = [
        BannerCreative(
            n, f"v{n}", "https://x/i", "/", "alt", "everyone", (), None, None, None, 1, "ab", w
        )
        for n, w in ((1, 1), (2, 3))
    ]
    shown = [choose(variants, SlotMember(id=m), NOW, "home_top")[0].ref for m in range(4000)]
    share = shown.count("2") / len(shown)
    assert 0.70 < share < 0.80
