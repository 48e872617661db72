"""Tier changes of a batch of facts, decided as the batch reaches each fact
and written together: the set form of :func:`tessera.tiers.service.apply_on_fact`.

Each decision (:func:`decide_on_fact`, the rule one fact at a time follows)
is applied at once to the member's locked state *in memory*, so the next fact
of that member sees the tier it now holds; :meth:`TierChanges.write` then
inserts every history row with one multi-row insert and updates the states
with one statement. A history row is unique per member and source, so a
batch racing another one for the same facts fails its insert and the
caller's transaction rolls back: nothing is applied twice.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass, field
from datetime import UTC, datetime
from typing import Any

from tessera.scope import BrandScope
from tessera.tiers.models import MemberTierState, TierDefinition, TierHistory
from tessera.tiers.service import (
    decide_on_fact,
    grant_gift_coupons,
    state_changes,
    tier_changed,
)
from tessera.uow import UnitOfWork

STATE_FIELDS = ["tier_id", "expires_at", "since", "lapsed_tier_id"]
_HISTORY_FIELDS = (
    "member_id", "from_tier_id", "to_tier_id", "reason", "policy_key", "source", "at",
    "expires_at", "created_at",
)  # fmt: skip


@dataclass
class Change:
    """One change of the batch; ``history.id`` is known after :meth:`TierChanges.write`."""

    history: TierHistory
    current: TierDefinition | None
    target: TierDefinition | None

    @property
    def gift_points(self) -> int:
        if self.history.reason != "upgrade" or self.target is None:
            return 0
        return int(self.target.gift_points or 0)


@dataclass
class TierChanges:
    scope: BrandScope
    tiers: Sequence[TierDefinition]
    changes: list[Change] = field(default_factory=list)
    _dirty: dict[int, MemberTierState] = field(default_factory=dict)

    def on_fact(
        self,
        state: MemberTierState,
        grant: object,
        *,
        policy_key: str,
        source: str,
        at: datetime,
    ) -> Change | None:
        """Apply the policy's answer to a fact to ``state`` (locked) in memory;
        the change when the tier changes."""
        decided = decide_on_fact(self.scope, state, self.tiers, grant, at)  # type: ignore[arg-type]
        if decided is None:
            return None
        self._dirty[state.member_id] = state
        if decided.reason is None:
            state.expires_at = decided.expires_at
            return None
        current = state.tier
        change = Change(
            self.scope.build(
                TierHistory,
                member_id=state.member_id,
                from_tier_id=current.id if current else None,
                to_tier_id=decided.target.id if decided.target else None,
                reason=decided.reason,
                policy_key=policy_key,
                source=source[:160],
                at=at,
                expires_at=decided.expires_at,
            ),
            current,
            decided.target,
        )
        for name, value in state_changes(
            current, decided.target, decided.reason, at, decided.expires_at
        ).items():
            setattr(state, name, value)
        state.tier = decided.target  # type: ignore[assignment]
        self.changes.append(change)
        return change

    async def write(self, uow: UnitOfWork) -> None:
        """The history rows (their ids set on the changes) and the states."""
        conn = uow.connection
        if self.changes:
            rows = [c.history for c in self.changes]
            now = datetime.now(UTC)
            for row in rows:
                row.created_at = now
            # The ids come back in order with the insert (no read-back by key).
            ids = await self.scope.insert_rows(
                TierHistory, [{f: getattr(row, f) for f in _HISTORY_FIELDS} for row in rows], conn
            )
            for row, history_id in zip(rows, ids, strict=True):
                row.id = history_id
        if self._dirty:
            await self._update_states(conn, list(self._dirty.values()))

    async def _update_states(self, conn: Any, states: list[MemberTierState]) -> None:
        if conn.capabilities.dialect != "postgres":
            await self.scope.update_many(MemberTierState, states, STATE_FIELDS, conn)
            return
        # One statement for any number of states (the ORM's bulk update
        # builds a CASE per column and row, slow to build for a batch).
        await conn.execute_query(
            "UPDATE member_tier_state AS s SET tier_id = v.tier_id, expires_at = v.expires_at, "
            "since = v.since, lapsed_tier_id = v.lapsed_tier_id, updated_at = now() "
            "FROM unnest($1::bigint[], $2::bigint[], $3::timestamptz[], $4::timestamptz[], "
            "$5::bigint[]) AS v(id, tier_id, expires_at, since, lapsed_tier_id) "
            "WHERE s.brand_id = $6 AND s.member_id = v.id",
            [
                [s.member_id for s in states],
                [s.tier_id for s in states],
                [s.expires_at for s in states],
                [s.since for s in states],
                [s.lapsed_tier_id for s in states],
                self.scope.brand_id,
            ],
        )

    async def announce(self, uow: UnitOfWork) -> None:
        """After the gift points are written: the gift coupons, and
        ``tier.changed`` for each change."""
        for change in self.changes:
            errors: tuple[str, ...] = ()
            if change.history.reason == "upgrade" and change.target is not None:
                errors = await grant_gift_coupons(
                    self.scope, uow, change.history, change.target, change.history.at
                )
            tier_changed(uow, change.history, change.current, change.target, errors)
