"""Building what recommendation slots read at request time (docs/slots.md):
co-purchase neighbours per item (item-item cosine similarity over the
member x item purchase matrix, scikit-learn on a scipy sparse matrix) and
recency-decayed popularity per audience (everyone, each segment, each
cluster). A job per brand, nightly and on demand (``tessera slots build``).

The pure functions take plain tuples so the quality test and the bench run
them on generated histories without a database."""

from __future__ import annotations

import math
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from typing import Any

from tortoise.expressions import Subquery
from tortoise.functions import Max

from tessera.orders.models import OrderLine
from tessera.scope import BrandScope
from tessera.segments.models import SegmentMembership
from tessera.slots.models import CatalogueItem, ItemNeighbour, ItemPopularity, MemberCluster
from tessera.uow import unit_of_work

NEIGHBOURS = 20
POPULAR_DEPTH = 100
HALF_LIFE_DAYS = 30.0
WINDOW_DAYS = 730
# Pairs bought together by fewer members are noise, not a signal.
MIN_TOGETHER = 2


@dataclass(frozen=True)
class Purchase:
    member_id: int
    sku: str
    at: datetime
    category: str | None = None


@dataclass(frozen=True)
class Neighbour:
    sku: str
    neighbour: str
    rank: int
    score: float
    together: int


@dataclass(frozen=True)
class Popular:
    scope: str
    sku: str
    category: str | None
    rank: int
    score: float
    buyers: int


@dataclass(frozen=True)
class BuildReport:
    purchases: int
    items: int
    neighbours: int
    popular: int
    catalogue_added: int


def item_neighbours(
    baskets: Iterable[tuple[int, str]], top: int = NEIGHBOURS, min_together: int = MIN_TOGETHER
) -> list[Neighbour]:
    """Each item's ``top`` most similar items: cosine similarity of the items'
    buyer vectors (binary: bought or not), with the number of members who
    bought both. ``baskets`` are ``(member, sku)`` pairs (repeats are fine)."""
    # Imported on use: scikit-learn takes seconds to import, which every
    # `tessera` command and API process would pay otherwise.
    import numpy as np
    from scipy.sparse import csr_matrix
    from sklearn.metrics.pairwise import cosine_similarity

    members: dict[int, int] = {}
    items: dict[str, int] = {}
    rows: list[int] = []
    cols: list[int] = []
    for member, sku in baskets:
        rows.append(members.setdefault(member, len(members)))
        cols.append(items.setdefault(sku, len(items)))
    if not items:
        return []
    matrix = csr_matrix(
        (np.ones(len(rows), dtype=np.float32), (rows, cols)), shape=(len(members), len(items))
    )
    matrix.data[:] = 1.0  # duplicates were summed: back to bought-or-not
    item_users = matrix.T.tocsr()
    similarity = cosine_similarity(item_users, dense_output=False).tocsr()
    together = (item_users @ item_users.T).tocsr()
    skus = list(items)
    result: list[Neighbour] = []
    for i, sku in enumerate(skus):
        start, end = similarity.indptr[i], similarity.indptr[i + 1]
        cols_i = similarity.indices[start:end]
        scores = similarity.data[start:end]
        # The row's co-buyer counts, sparse: a dense row per item would make
        # the build quadratic in the number of items.
        t_start, t_end = together.indptr[i], together.indptr[i + 1]
        counts = dict(
            zip(together.indices[t_start:t_end], together.data[t_start:t_end], strict=True)
        )
        candidates = [
            (float(s), skus[j], int(counts.get(j, 0)))
            for j, s in zip(cols_i, scores, strict=True)
            if j != i and counts.get(j, 0) >= min_together
        ]
        candidates.sort(key=lambda c: (-c[0], c[1]))
        result += [
            Neighbour(sku, other, rank, round(score, 6), n)
            for rank, (score, other, n) in enumerate(candidates[:top], start=1)
        ]
    return result


def popularity(
    purchases: Iterable[Purchase],
    now: datetime,
    audiences: Mapping[str, set[int]] | None = None,
    *,
    half_life_days: float = HALF_LIFE_DAYS,
    depth: int = POPULAR_DEPTH,
) -> list[Popular]:
    """Each audience's top items: every buyer counts once, weighted by how
    recently they last bought it (halving every ``half_life_days``).
    ``audiences`` maps a scope (``segment:3``) to its members; ``""`` is
    everyone and always computed."""
    latest: dict[tuple[int, str], datetime] = {}
    categories: dict[str, str | None] = {}
    for p in purchases:
        key = (p.member_id, p.sku)
        if key not in latest or p.at > latest[key]:
            latest[key] = p.at
        categories.setdefault(p.sku, p.category)
    decay = math.log(2) / (half_life_days * 86400)
    weights = {
        key: math.exp(-decay * max((now - at).total_seconds(), 0.0)) for key, at in latest.items()
    }
    result: list[Popular] = []
    for scope, members in {"": None, **(audiences or {})}.items():
        score: dict[str, float] = {}
        buyers: dict[str, int] = {}
        for (member, sku), weight in weights.items():
            if members is not None and member not in members:
                continue
            score[sku] = score.get(sku, 0.0) + weight
            buyers[sku] = buyers.get(sku, 0) + 1
        ranked = sorted(score.items(), key=lambda kv: (-kv[1], kv[0]))[:depth]
        result += [
            Popular(scope, sku, categories.get(sku), rank, round(value, 6), buyers[sku])
            for rank, (sku, value) in enumerate(ranked, start=1)
        ]
    return result


async def add_unknown_items(scope: BrandScope, connection: Any = None) -> int:
    """Catalogue entries for skus seen on order lines only (name and category
    from the lines): one read of the missing skus, one multi-row insert."""
    known = scope.query(CatalogueItem).values("sku")
    missing = (
        await scope.query(OrderLine)
        .using_db(connection)
        .filter(sku__not_in=Subquery(known))
        .annotate(last_name=Max("name"), last_category=Max("category"))
        .group_by("sku")
        .values("sku", "last_name", "last_category")
    )
    await scope.insert_many(
        CatalogueItem,
        [
            scope.build(
                CatalogueItem,
                sku=row["sku"],
                name=row["last_name"] or "",
                category=row["last_category"],
                tags=[],
                tag_text="",
            )
            for row in missing
        ],
        using_db=connection,
        ignore_conflicts=True,
    )
    return len(missing)


async def build(
    scope: BrandScope,
    *,
    now: datetime | None = None,
    top: int = NEIGHBOURS,
    half_life_days: float = HALF_LIFE_DAYS,
) -> BuildReport:
    """Recompute the brand's neighbours and popular lists from its orders
    and swap them in, in one transaction (readers see old or new, never a mix)."""
    now = now or datetime.now(UTC)
    added = await add_unknown_items(scope)
    since = now - timedelta(days=WINDOW_DAYS)
    rows = (
        await scope.query(OrderLine)
        .filter(order__occurred_at__gte=since, order__occurred_at__lte=now)
        .values_list("order__member_id", "sku", "order__occurred_at", "category")
    )
    purchases = [Purchase(int(m), str(s), at, c) for m, s, at, c in rows]
    neighbours = item_neighbours(((p.member_id, p.sku) for p in purchases), top=top)
    audiences: dict[str, set[int]] = {}
    for segment_id, member_id in await scope.query(SegmentMembership).values_list(
        "segment_id", "member_id"
    ):
        audiences.setdefault(f"segment:{segment_id}", set()).add(int(member_id))
    for member_id, cluster in await scope.query(MemberCluster).values_list("member_id", "cluster"):
        audiences.setdefault(f"cluster:{cluster}", set()).add(int(member_id))
    popular = popularity(purchases, now, audiences, half_life_days=half_life_days)
    async with unit_of_work(scope) as uow:
        await scope.query(ItemNeighbour).using_db(uow.connection).delete()
        await scope.query(ItemPopularity).using_db(uow.connection).delete()
        await scope.copy_values(
            ItemNeighbour,
            [
                {
                    "sku": n.sku,
                    "neighbour": n.neighbour,
                    "rank": n.rank,
                    "score": n.score,
                    "together": n.together,
                }
                for n in neighbours
            ],
            uow.connection,
        )
        await scope.copy_values(
            ItemPopularity,
            [
                {
                    "scope": p.scope,
                    "sku": p.sku,
                    "category": p.category,
                    "rank": p.rank,
                    "score": p.score,
                    "buyers": p.buyers,
                }
                for p in popular
            ],
            uow.connection,
        )
    return BuildReport(
        len(purchases), len({p.sku for p in purchases}), len(neighbours), len(popular), added
    )


def hit_rate(
    recommend: Sequence[tuple[Sequence[str], str]],
    ranker: Any,
    k: int = 10,
) -> float:
    """Share of ``(history, held_out)`` cases where ``ranker(history)`` puts
    the held-out item in its first ``k``."""
    if not recommend:
        return 0.0
    hits = sum(1 for history, held in recommend if held in list(ranker(history))[:k])
    return hits / len(recommend)
