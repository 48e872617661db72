"""Automatic member clusters (docs/slots.md): k-means (scikit-learn) over each
buying member's RFM (days since the last order, orders, spend) and their
category preference (share of units per top category), so operators find
audiences they did not think of. Each cluster gets a short description
("high spend, recent, mostly Shoes") and is a segment source through the
rule condition ``{"type": "cluster", "in": [n]}``."""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from datetime import UTC, datetime

from tortoise.functions import Sum

from tessera.orders.models import MemberStats, OrderLine
from tessera.scope import BrandScope
from tessera.slots.models import ClusterInfo, MemberCluster
from tessera.uow import unit_of_work

CLUSTERS = 5
TOP_CATEGORIES = 8
# A centre this many standard deviations from the mean reads as high or low.
NOTABLE = 0.5
# A category reads as "mostly" when it holds this share of the cluster's units.
MOSTLY = 0.4


@dataclass(frozen=True)
class MemberFeatures:
    member_id: int
    days_since: float
    orders: int
    spent: int
    shares: tuple[float, ...]


@dataclass(frozen=True)
class Cluster:
    number: int
    size: int
    description: str
    centre: dict[str, float]


def describe(z: dict[str, float], shares: dict[str, float]) -> str:
    """Words for a cluster centre given as standard scores (and category shares)."""

    def level(value: float, high: str, low: str, middle: str) -> str:
        return high if value > NOTABLE else low if value < -NOTABLE else middle

    words = [
        level(z["spent"], "high spend", "low spend", "average spend"),
        level(-z["days_since"], "recent", "lapsed", "neither recent nor lapsed"),
        level(z["orders"], "frequent", "occasional", "average frequency"),
    ]
    if shares:
        category, share = max(shares.items(), key=lambda kv: (kv[1], kv[0]))
        if share >= MOSTLY:
            words.append(f"mostly {category}")
        else:
            words.append("mixed categories")
    return ", ".join(words)


def cluster_members(
    features: Sequence[MemberFeatures], categories: Sequence[str], k: int = CLUSTERS, seed: int = 0
) -> tuple[dict[int, int], list[Cluster]]:
    """Cluster numbers by member and the clusters (numbered by size, largest 0)."""
    # Imported on use, as in tessera.slots.model: seconds at every start otherwise.
    import numpy as np
    from sklearn.cluster import KMeans
    from sklearn.preprocessing import StandardScaler

    if not features:
        return {}, []
    k = max(1, min(k, len(features)))
    raw = np.array(
        [
            [f.days_since, np.log1p(f.orders), np.log1p(max(f.spent, 0)), *f.shares]
            for f in features
        ],
        dtype=np.float64,
    )
    scaled = StandardScaler().fit_transform(raw)
    labels = KMeans(n_clusters=k, n_init=10, random_state=seed).fit_predict(scaled)
    order = sorted(range(k), key=lambda c: (-int(np.sum(labels == c)), c))
    renumber = {old: new for new, old in enumerate(order)}
    assignment = {
        f.member_id: renumber[int(label)] for f, label in zip(features, labels, strict=True)
    }
    clusters = []
    for old in order:
        rows = scaled[labels == old]
        if len(rows) == 0:
            continue
        mean = rows.mean(axis=0)
        plain = raw[labels == old].mean(axis=0)
        z = {"days_since": float(mean[0]), "orders": float(mean[1]), "spent": float(mean[2])}
        shares = {c: float(plain[3 + i]) for i, c in enumerate(categories)}
        clusters.append(
            Cluster(
                renumber[old],
                int(len(rows)),
                describe(z, shares),
                {
                    "days_since_last_order": round(float(plain[0]), 1),
                    "orders": round(float(np.expm1(plain[1])), 2),
                    "spent": round(float(np.expm1(plain[2]))),
                    **{f"share:{c}": round(v, 3) for c, v in shares.items()},
                },
            )
        )
    return assignment, clusters


async def member_features(
    scope: BrandScope, now: datetime
) -> tuple[list[MemberFeatures], list[str]]:
    """Every member with an order: their RFM figures and category shares
    (read in two aggregate queries)."""
    stats = (
        await scope.query(MemberStats)
        .filter(orders_count__gt=0)
        .order_by("member_id")
        .values_list("member_id", "orders_count", "gross_spent", "refunded_total", "last_order_at")
    )
    units = (
        await scope.query(OrderLine)
        .filter(category__not_isnull=True)
        .annotate(units=Sum("quantity"))
        .group_by("order__member_id", "category")
        .values_list("order__member_id", "category", "units")
    )
    totals: dict[str, int] = {}
    by_member: dict[int, dict[str, int]] = {}
    for member_id, category, n in units:
        totals[str(category)] = totals.get(str(category), 0) + int(n)
        by_member.setdefault(int(member_id), {})[str(category)] = int(n)
    categories = [c for c, _ in sorted(totals.items(), key=lambda kv: (-kv[1], kv[0]))][
        :TOP_CATEGORIES
    ]
    features = []
    for member_id, orders, gross, refunded, last in stats:
        bought = by_member.get(int(member_id), {})
        total = sum(bought.values()) or 1
        features.append(
            MemberFeatures(
                int(member_id),
                (now - last).total_seconds() / 86400 if last else 0.0,
                int(orders),
                int(gross) - int(refunded),
                tuple(bought.get(c, 0) / total for c in categories),
            )
        )
    return features, categories


async def run_clustering(
    scope: BrandScope, *, k: int = CLUSTERS, now: datetime | None = None
) -> list[ClusterInfo]:
    """Cluster the brand's buying members and replace the stored clusters."""
    now = now or datetime.now(UTC)
    features, categories = await member_features(scope, now)
    assignment, clusters = cluster_members(features, categories, k)
    async with unit_of_work(scope) as uow:
        await scope.query(MemberCluster).using_db(uow.connection).delete()
        await scope.query(ClusterInfo).using_db(uow.connection).delete()
        await scope.insert_many(
            MemberCluster,
            [scope.build(MemberCluster, member_id=m, cluster=c) for m, c in assignment.items()],
            using_db=uow.connection,
        )
        await scope.insert_many(
            ClusterInfo,
            [
                scope.build(
                    ClusterInfo,
                    cluster=c.number,
                    size=c.size,
                    description=c.description[:300],
                    centre=c.centre,
                    computed_at=now,
                )
                for c in clusters
            ],
            using_db=uow.connection,
        )
    return await scope.query(ClusterInfo).order_by("cluster")
