"""Building what recommendation slots read at request time (docs/slots.md):
co-purchase neighbours per item (item-item cosine similarity over the
member x item purchase matrix, scikit-learn on a scipy sparse matrix) and
recency-decayed popularity per audience (everyone, each segment, each
cluster). A job per brand, nightly and on demand (``tessera slots build``).

The pure functions take plain tuples so the quality test and the bench run
them on generated histories without a database."""

from __future__ import annotations

import math
from array import array
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from typing import Any

from tortoise.expressions import Subquery
from tortoise.functions import Max, Min

from tessera.orders.models import Order, OrderLine
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
# Orders (by id) whose lines the build reads per query.
READ_CHUNK = 25_000


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
    members: dict[int, int] = {}
    items: dict[str, int] = {}
    rows: list[int] = []
    cols: list[int] = []
    for member, sku in baskets:
        rows.append(members.setdefault(member, len(members)))
        cols.append(items.setdefault(sku, len(items)))
    return _neighbours(rows, cols, list(items), top, min_together)


def _neighbours(
    member_codes: Sequence[int] | Any,
    item_codes: Sequence[int] | Any,
    skus: Sequence[str],
    top: int,
    min_together: int,
) -> list[Neighbour]:
    """:func:`item_neighbours` of purchases coded as row numbers: member
    ``member_codes[i]`` bought ``skus[item_codes[i]]``."""
    # Imported on use: scikit-learn takes seconds to import, which every
    # `tessera` command and API process would pay otherwise.
    import numpy as np
    from scipy.sparse import csr_matrix
    from sklearn.metrics.pairwise import cosine_similarity

    if not skus:
        return []
    rows = np.asarray(member_codes, dtype=np.int64)
    cols = np.asarray(item_codes, dtype=np.int64)
    matrix = csr_matrix(
        (np.ones(len(rows), dtype=np.float32), (rows, cols)),
        shape=(int(rows.max()) + 1 if len(rows) else 0, len(skus)),
    )
    matrix.data[:] = 1.0  # duplicates were summed: back to bought-or-not
    item_users = matrix.T.tocsr()
    similarity = cosine_similarity(item_users, dense_output=False).tocsr()
    together = (item_users @ item_users.T).tocsr()
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


@dataclass
class History:
    """A brand's purchase lines, compact: line ``i`` is member
    ``members[i]`` buying ``skus[items[i]]`` at ``at[i]`` (seconds since
    the epoch). Columns of machine numbers: at a million orders a Python
    object per line would take gigabytes."""

    members: Any  # numpy int64
    items: Any  # numpy int32
    at: Any  # numpy float64
    skus: list[str]
    categories: list[str | None]  # per item, as first read


async def read_history(scope: BrandScope, since: datetime, until: datetime) -> History:
    """The brand's order lines between ``since`` and ``until``, read by
    ranges of ``READ_CHUNK`` order ids (both tables by an index range, so
    the read stays one pass over the orders whatever their number), each
    chunk turned into numbers before the next is read."""
    import numpy as np

    members, items, at = array("q"), array("i"), array("d")
    codes: dict[str, int] = {}
    categories: list[str | None] = []
    in_window = scope.query(Order).filter(occurred_at__gte=since, occurred_at__lte=until)
    bounds = await in_window.annotate(low=Min("id"), high=Max("id")).values("low", "high")
    low, high = (bounds[0]["low"], bounds[0]["high"]) if bounds else (None, None)
    start = int(low) if low is not None else 0
    while high is not None and start <= int(high):
        end = start + READ_CHUNK
        chunk = (
            await scope.query(OrderLine)
            .filter(
                order_id__gte=start,
                order_id__lt=end,
                order__id__gte=start,
                order__id__lt=end,
                order__occurred_at__gte=since,
                order__occurred_at__lte=until,
            )
            .values_list("order__member_id", "sku", "order__occurred_at", "category")
        )
        for member, sku, when, category in chunk:
            code = codes.get(sku)
            if code is None:
                code = codes[sku] = len(codes)
                categories.append(category)
            members.append(member)
            items.append(code)
            at.append(when.timestamp())
        start = end
    return History(
        np.frombuffer(members, dtype=np.int64),
        np.frombuffer(items, dtype=np.int32),
        np.frombuffer(at, dtype=np.float64),
        list(codes),
        categories,
    )


def history_popularity(
    history: History,
    now: datetime,
    audiences: Mapping[str, set[int]] | None = None,
    *,
    half_life_days: float = HALF_LIFE_DAYS,
    depth: int = POPULAR_DEPTH,
) -> list[Popular]:
    """:func:`popularity` of a :class:`History`, in numpy."""
    import numpy as np

    if not history.skus:
        return []
    # The latest purchase of each (member, item): sorted by pair, then time.
    order = np.lexsort((history.at, history.items, history.members))
    members, items, at = history.members[order], history.items[order], history.at[order]
    last = np.ones(len(order), dtype=bool)
    last[:-1] = (members[1:] != members[:-1]) | (items[1:] != items[:-1])
    members, items, at = members[last], items[last], at[last]
    decay = math.log(2) / (half_life_days * 86400)
    weights = np.exp(-decay * np.maximum(now.timestamp() - at, 0.0))
    result: list[Popular] = []
    for scope, audience in {"": None, **(audiences or {})}.items():
        chosen = (
            np.ones(len(members), dtype=bool)
            if audience is None
            else np.isin(members, np.fromiter(audience, dtype=np.int64, count=len(audience)))
        )
        score = np.bincount(items[chosen], weights[chosen], minlength=len(history.skus))
        buyers = np.bincount(items[chosen], minlength=len(history.skus))
        ranked = sorted(
            ((float(score[i]), history.skus[i], int(i)) for i in np.flatnonzero(buyers)),
            key=lambda t: (-t[0], t[1]),
        )[:depth]
        result += [
            Popular(scope, sku, history.categories[i], rank, round(value, 6), int(buyers[i]))
            for rank, (value, sku, i) in enumerate(ranked, start=1)
        ]
    return result


async def build(
    scope: BrandScope,
    *,
    now: datetime | None = None,
    top: int = NEIGHBOURS,
    half_life_days: float = HALF_LIFE_DAYS,
) -> BuildReport:
    """Recompute the brand's neighbours and popular lists from its orders
    and swap them in, in one transaction (readers see old or new, never a mix)."""
    import numpy as np

    now = now or datetime.now(UTC)
    added = await add_unknown_items(scope)
    history = await read_history(scope, now - timedelta(days=WINDOW_DAYS), now)
    # Members as row numbers of the purchase matrix.
    _, member_rows = np.unique(history.members, return_inverse=True)
    neighbours = _neighbours(member_rows, history.items, history.skus, top, MIN_TOGETHER)
    audiences: dict[str, set[int]] = {}
    for segment_id, member_id in await scope.query(SegmentMembership).values_list(
        "segment_id", "member_id"
    ):
        audiences.setdefault(f"segment:{segment_id}", set()).add(int(member_id))
    for member_id, cluster in await scope.query(MemberCluster).values_list("member_id", "cluster"):
        audiences.setdefault(f"cluster:{cluster}", set()).add(int(member_id))
    popular = history_popularity(history, now, audiences, half_life_days=half_life_days)
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
    return BuildReport(len(history.items), len(history.skus), len(neighbours), len(popular), added)


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
