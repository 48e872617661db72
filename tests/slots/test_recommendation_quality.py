"""Recommendation quality, measured: a purchase history with planted
co-purchase structure (members buy within one group of items, plus a few
items everybody buys), split by holding out each member's last purchase.
Co-purchase must find the held-out item in its top 10 far more often than
the popularity baseline; the margin is kept here."""

from __future__ import annotations

import random
from datetime import UTC, datetime, timedelta

from tessera import ItemScore
from tessera.plugins.slots.recommend import co_purchase_ranking
from tessera.slots.model import Purchase, hit_rate, item_neighbours, popularity

NOW = datetime(2026, 6, 1, tzinfo=UTC)
GROUPS, PER_GROUP, MEMBERS, HITS = 6, 12, 600, 4
# What the test keeps: co-purchase beats popularity at hit-rate@10 by this much.
MARGIN = 0.25


def history(seed: int = 7) -> tuple[list[Purchase], list[tuple[list[str], str]]]:
    rng = random.Random(seed)
    hits = [f"hit-{n}" for n in range(HITS)]
    train: list[Purchase] = []
    held: list[tuple[list[str], str]] = []
    for member in range(MEMBERS):
        group = rng.randrange(GROUPS)
        items = rng.sample([f"g{group}-{n}" for n in range(PER_GROUP)], rng.randint(3, 6))
        items += rng.sample(hits, rng.randint(1, 3))
        rng.shuffle(items)
        # The last planted (group) item is held out.
        last = max(i for i, sku in enumerate(items) if sku.startswith("g"))
        held_out = items.pop(last)
        for n, sku in enumerate(items):
            train.append(Purchase(member, sku, NOW - timedelta(days=len(items) - n)))
        held.append((items, held_out))
    return train, held


def test_co_purchase_beats_popularity_at_hit_rate_10() -> None:
    train, held = history()
    neighbours = item_neighbours((p.member_id, p.sku) for p in train)
    by_item: dict[str, list[ItemScore]] = {}
    for n in neighbours:
        by_item.setdefault(n.sku, []).append(ItemScore(n.neighbour, n.score, of=n.sku))
    popular = [p.sku for p in popularity(train, NOW) if p.scope == ""]

    def by_popularity(bought: list[str]) -> list[str]:
        return [sku for sku in popular if sku not in bought]

    def by_co_purchase(bought: list[str]) -> list[str]:
        ranked = co_purchase_ranking(s for sku in bought for s in by_item.get(sku, ()))
        picks = [sku for sku, _, _ in ranked if sku not in bought]
        return picks + [sku for sku in by_popularity(bought) if sku not in picks]

    baseline = hit_rate(held, by_popularity)
    co_purchase = hit_rate(held, by_co_purchase)
    print(f"hit-rate@10: co-purchase {co_purchase:.3f}, popularity {baseline:.3f}")
    assert co_purchase >= baseline + MARGIN


def test_neighbours_name_the_members_who_bought_both() -> None:
    baskets = [(1, "a"), (1, "b"), (2, "a"), (2, "b"), (3, "a"), (3, "c"), (4, "c")]
    found = {(n.sku, n.neighbour): n for n in item_neighbours(baskets, min_together=1)}
    assert found[("a", "b")].together == 2 and found[("a", "b")].rank == 1
    assert found[("a", "c")].together == 1 and found[("a", "c")].rank == 2
    assert ("b", "c") not in found
    assert not item_neighbours(baskets)[0:0] and all(
        n.together >= 2 for n in item_neighbours(baskets)
    )


def test_popularity_counts_each_buyer_once_and_decays_with_age() -> None:
    purchases = [
        Purchase(1, "old", NOW - timedelta(days=60)),
        Purchase(2, "old", NOW - timedelta(days=60)),
        Purchase(3, "new", NOW),
        Purchase(3, "new", NOW),
        Purchase(3, "new", NOW),
    ]
    ranked = {p.sku: p for p in popularity(purchases, NOW, half_life_days=30)}
    assert ranked["new"].buyers == 1 and ranked["new"].score == 1.0
    assert ranked["old"].buyers == 2 and abs(ranked["old"].score - 0.5) < 1e-6
    segment = popularity(purchases, NOW, {"segment:9": {1}})
    assert [(p.scope, p.sku, p.buyers) for p in segment if p.scope] == [("segment:9", "old", 1)]
