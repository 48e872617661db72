"""What a batch of facts reads, loaded once for the whole batch.

:class:`BatchHistory` answers the questions the rewards computation asks
(:class:`tessera.rewards.pipeline.History`: a member's facts, the tiers, the
growth held, net spend and growth within a window) from rows read in a
constant number of queries, and is told of every fact the batch records so
that fact *k* sees exactly what it would see had facts 1..k-1 been recorded
one at a time before it. The tier states are locked for the batch in one
statement (the row lock that queues concurrent facts of one member).
"""

from __future__ import annotations

from collections import defaultdict
from collections.abc import Collection, Sequence
from datetime import datetime
from typing import Any, NamedTuple

from tessera.db import any_of, numbered, stored_time
from tessera.members.models import Member
from tessera.plugin_host.components import MemberFacts, TierInfo
from tessera.rewards.pipeline import History
from tessera.scope import BrandScope
from tessera.tiers.models import MemberTierState, TierDefinition
from tessera.tiers.service import tier_info
from tessera.uow import UnitOfWork


class _Dated(NamedTuple):
    """An order's net amount or a growth entry (thousands a batch: a tuple
    is made faster than a frozen dataclass)."""

    at: datetime
    amount: int
    ref: str | None = None


class BatchHistory(History):
    """The past of a batch's members, in memory (see the module's docstring)."""

    def __init__(
        self,
        scope: BrandScope,
        tiers: Sequence[TierDefinition],
        tags: dict[int, list[tuple[str, datetime | None]]],
        growth: dict[int, int],
        orders: dict[int, list[_Dated]],
        grown: dict[int, list[_Dated]],
    ) -> None:
        super().__init__(scope)
        self._tiers = tiers
        self._tags = tags
        self._growth = growth
        self._orders = orders
        self._grown = grown
        self._infos: tuple[TierInfo, ...] | None = None

    async def facts(
        self, member: Member, now: datetime, state: MemberTierState | None
    ) -> MemberFacts:
        # As tessera.rewards.facts.member_facts builds them, from loaded rows.
        tier = state.tier if state is not None else None
        codes = frozenset(
            code
            for code, expires in self._tags.get(member.id, ())
            if expires is None or expires > now
        )
        return MemberFacts(
            id=member.id,
            joined_at=member.joined_at,
            birthday=member.birthday,
            tags=codes,
            tier=tier_info(tier),
            tier_since=state.since if state is not None and tier is not None else None,
            tier_expires_at=state.expires_at if state is not None else None,
            lapsed_tier=state.lapsed_tier.code if state is not None and state.lapsed_tier else None,
        )

    async def tiers(self) -> Sequence[TierDefinition]:
        return self._tiers

    def tier_infos(self, tiers: Sequence[TierDefinition]) -> tuple[TierInfo, ...]:
        # The batch's tiers do not change: made once a batch, not once an
        # order (frozen, so the orders may share them).
        if self._infos is None:
            self._infos = super().tier_infos(tiers)
        return self._infos

    async def held_growth(self, member_id: int) -> int:
        return self._growth.get(member_id, 0)

    async def spent(
        self, member_id: int, since: datetime, until: datetime, leave_out: str | None
    ) -> int:
        return sum(
            o.amount
            for o in self._orders.get(member_id, ())
            if since <= o.at <= until and (leave_out is None or o.ref != leave_out)
        )

    async def grown(self, member_id: int, since: datetime, until: datetime) -> int:
        return sum(g.amount for g in self._grown.get(member_id, ()) if since <= g.at <= until)

    def recorded(
        self, member_id: int, external_id: str, at: datetime, paid: int, growth: int
    ) -> None:
        """An order of the batch is recorded: later facts count it."""
        self._orders.setdefault(member_id, []).append(_Dated(at, paid, external_id))
        if growth:
            self._growth[member_id] = self._growth.get(member_id, 0) + growth
            self._grown.setdefault(member_id, []).append(_Dated(at, growth))


async def load_history(
    scope: BrandScope,
    uow: UnitOfWork,
    member_ids: Collection[int],
    *,
    leave_out: Collection[int],
    windows: bool,
) -> BatchHistory:
    """The batch's members' past as it stands in ``uow``: tiers, live tags and
    growth balances; with ``windows`` (a tier policy is on, it may ask for spend
    or growth within a window) their orders but those with an id in
    ``leave_out`` (the batch's own, counted as they are recorded) and their
    growth entries. Five queries at most, whatever the batch's size."""
    conn = uow.connection
    ids = list(member_ids)
    tiers = list(await scope.query(TierDefinition).using_db(conn).order_by("rank"))
    # Tags and growth balances as plain rows, the members one bound value (the
    # ORM's IN list of a batch's 1,000 literals cost more to build than to run).
    tags: dict[int, list[tuple[str, datetime | None]]] = defaultdict(list)
    for row in await _rows(
        conn,
        "SELECT a.member_id, t.code, a.expires_at FROM tag_assignment a "
        "JOIN tag t ON t.id = a.tag_id WHERE a.brand_id = ? AND {members}",
        scope.brand_id,
        ids,
        column="a.member_id",
    ):
        expires = row["expires_at"]
        tags[int(row["member_id"])].append(
            (str(row["code"]), stored_time(expires) if expires is not None else None)
        )
    growth = {
        int(row["member_id"]): int(row["balance"])
        for row in await _rows(
            conn,
            "SELECT member_id, balance FROM asset_account "
            "WHERE brand_id = ? AND kind = 'growth' AND {members}",
            scope.brand_id,
            ids,
        )
    }
    orders: dict[int, list[_Dated]] = defaultdict(list)
    grown: dict[int, list[_Dated]] = defaultdict(list)
    if windows:
        skip = set(leave_out)
        for row in await _rows(
            conn,
            "SELECT id, member_id, external_id, occurred_at, amount_paid - refunded_amount AS net "
            "FROM sales_order WHERE brand_id = ? AND {members}",
            scope.brand_id,
            ids,
        ):
            if row["id"] not in skip:
                orders[int(row["member_id"])].append(
                    _Dated(stored_time(row["occurred_at"]), int(row["net"]), row["external_id"])
                )
        for row in await _rows(
            conn,
            "SELECT member_id, occurred_at, amount FROM ledger_entry "
            "WHERE brand_id = ? AND kind = 'growth' AND {members}",
            scope.brand_id,
            ids,
        ):
            grown[int(row["member_id"])].append(
                _Dated(stored_time(row["occurred_at"]), int(row["amount"]))
            )
    return BatchHistory(scope, tiers, dict(tags), growth, dict(orders), dict(grown))


async def _rows(
    conn: Any, statement: str, brand_id: int, ids: list[int], *, column: str = "member_id"
) -> list[dict[str, Any]]:
    """A member's history as plain rows: a batch reads thousands, and the
    ORM's per-value conversion would cost more than the query."""
    members, value = any_of(conn, column, ids)
    rows: list[dict[str, Any]] = await conn.execute_query_dict(
        numbered(conn, statement.format(members=members)), [brand_id, value]
    )
    return rows


async def lock_states(
    scope: BrandScope,
    uow: UnitOfWork,
    first_fact: dict[int, datetime],
    tiers: Sequence[TierDefinition],
) -> dict[int, MemberTierState]:
    """Each member's tier state row, created empty (``since`` their first
    fact of the batch) if missing, locked in member order for the rest of the
    transaction: the batch form of :func:`tessera.tiers.service.lock_state`."""
    conn = uow.connection
    await scope.insert_rows(
        MemberTierState,
        [{"member_id": m, "since": at} for m, at in sorted(first_fact.items())],
        conn,
        ignore_conflicts=True,
    )
    lock = " FOR UPDATE" if conn.capabilities.dialect == "postgres" else ""
    rows = scope.loaded(
        MemberTierState,
        await _rows(
            conn,
            "SELECT member_id, brand_id, tier_id, since, expires_at, lapsed_tier_id, updated_at "
            f"FROM member_tier_state WHERE brand_id = ? AND {{members}} ORDER BY member_id{lock}",
            scope.brand_id,
            sorted(first_fact),
        ),
    )
    by_id = {t.id: t for t in tiers}
    for state in rows:
        # The tiers are in hand: no fetch_related per state.
        state.tier = by_id.get(state.tier_id) if state.tier_id else None  # type: ignore[assignment]
        state.lapsed_tier = by_id.get(state.lapsed_tier_id) if state.lapsed_tier_id else None  # type: ignore[assignment]
    return {state.member_id: state for state in rows}
