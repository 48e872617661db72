"""Moving points, stored value and growth value: the only code that writes the
ledgers (DESIGN.md, Data rules).

Every write:

- takes an ``idempotency_key`` (unique per brand). Replaying it returns the
  first result with ``replayed=True``; the same key with another request
  raises ``IDEMPOTENCY_CONFLICT`` and keeps the original. Two identical calls
  racing both get the first one's result and nothing is applied twice. On
  SQLite (and for the reversals and a held redemption) the loser's entry
  insert fails on the unique key, its transaction (or savepoint) rolls
  back, and it answers as a replay. On PostgreSQL a single-entry write
  (earn, redeem, adjust, refund, top-up, spend, growth) claims its key
  instead: it locks the account if the change would apply
  (:func:`tessera.assets.accounts.hold`), then inserts its entry with
  ``ON CONFLICT DO NOTHING`` and moves the account and its lots in the same
  statement only if the entry went in; nothing fails, so it joins the
  caller's transaction without a savepoint (two round trips less).
- moves the account with one conditional SQL update (:mod:`.accounts`) and
  appends its entries in the same transaction; with ``uow`` it joins the
  caller's transaction (inside a savepoint unless it claims its key), else
  it opens its own (likewise inside a mutation's enclosing transaction).
- emits ``points.changed`` / ``stored_value.changed`` / ``growth.changed``,
  delivered to plugins after the commit.

Sums: an account's ``balance`` is the sum of its entries' amounts except
``pending`` and ``cancel`` entries, which move ``pending`` instead; a
``release`` entry moves held points into the balance, so
``pending = sum(pending) + sum(cancel) - sum(release)``.
"""

from __future__ import annotations

from collections.abc import Awaitable, Callable, Iterable
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any

from tortoise import connections
from tortoise.exceptions import IntegrityError

from tessera.assets import accounts, lots
from tessera.assets.accounts import Moved
from tessera.assets.models import AssetAccount, LedgerEntry
from tessera.assets.policy import (
    NegativeBalance,
    PolicyValues,
    expires_at,
    get_policy,
    pending_until,
)
from tessera.db import numbered
from tessera.errors import DomainError
from tessera.idempotency import conflict, fingerprint, stored_key
from tessera.members.models import Member
from tessera.orders.money import MAX_MINOR
from tessera.scope import BrandScope
from tessera.uow import UnitOfWork, unit_of_work

POINTS, STORED_VALUE, GROWTH = "points", "stored_value", "growth"
# Points and growth reach clients as GraphQL ``Int`` (32-bit signed): one
# entry moves at most MAX_POINTS_ENTRY, and no account holds more than
# MAX_BALANCE (balance and held points together), checked by the write itself.
MAX_POINTS_ENTRY = 1_000_000_000
MAX_BALANCE = 2**31 - 1
# Stored value is money (shown as a decimal string): minor units.
MAX_AMOUNT = 10**12
MAX_STORED_VALUE = MAX_MINOR
# A second part's key adds RESERVED_PREFIX to the stored key (see
# tessera.idempotency for the limits).
RESERVED_PREFIX = "tessera:"
KINDS = {POINTS: POINTS, STORED_VALUE: STORED_VALUE, GROWTH: GROWTH}
EVENTS = {POINTS: "points.changed", STORED_VALUE: "stored_value.changed", GROWTH: "growth.changed"}


@dataclass(frozen=True)
class LedgerResult:
    """What one write appended, the account's balance after it, and whether it
    was a replay of an earlier call with the same idempotency key."""

    entries: list[LedgerEntry]
    balance: int
    replayed: bool = False

    @property
    def entry(self) -> LedgerEntry:
        return self.entries[0]


@dataclass(frozen=True)
class Balances:
    """A member's balances; stored value in minor units of the brand's currency."""

    points: int = 0
    pending_points: int = 0
    reserved_points: int = 0
    stored_value: int = 0
    growth: int = 0

    @property
    def available_points(self) -> int:
        """Points that can be spent now: the balance less what holds keep."""
        return max(self.points - self.reserved_points, 0)


@dataclass
class _Request:
    """One write as asked. ``member_id`` is the only field that changes: a
    write to a merged member's tombstone is redirected to the survivor
    (:func:`_run`), keeping the fingerprint of the request as asked so that
    its replays are recognised."""

    operation: str
    kind: str
    member_id: int
    amount: int
    idempotency_key: str
    reason: str = ""
    source_type: str = ""
    source_ref: str | None = None

    def fingerprint(self) -> str:
        payload = [
            self.operation,
            self.kind,
            self.member_id,
            self.amount,
            self.reason,
            self.source_type,
            self.source_ref,
        ]
        return fingerprint(payload)


Write = Callable[[UnitOfWork, str], Awaitable[LedgerResult]]


# --- points -------------------------------------------------------------------


async def earn_points(
    scope: BrandScope,
    member_id: int,
    amount: int,
    *,
    idempotency_key: str,
    reason: str,
    source_type: str,
    source_ref: str | None = None,
    pending_until: datetime | None = None,
    now: datetime | None = None,
    uow: UnitOfWork | None = None,
) -> LedgerResult:
    """Add ``amount`` points as a new lot expiring per the brand's policy. With
    ``pending_until`` in the future the points are held (``pending``) until the
    release job makes them available then (see :func:`pending_window_end`)."""
    now = _now(now)
    _positive(amount, "points")
    held = pending_until if pending_until is not None and pending_until > now else None
    request = _Request(
        "earn", POINTS, member_id, amount, idempotency_key, reason, source_type, source_ref
    )
    return await _run(
        scope, request, _earn_write(scope, request, "earn", now, held), uow, claims=True
    )


async def redeem_points(
    scope: BrandScope,
    member_id: int,
    amount: int,
    *,
    idempotency_key: str,
    reason: str,
    source_type: str,
    source_ref: str | None = None,
    now: datetime | None = None,
    uow: UnitOfWork | None = None,
) -> LedgerResult:
    """Take ``amount`` available points, soonest-expiring lots first; raises
    ``INSUFFICIENT_POINTS`` (nothing changed) when the balance is smaller."""
    now = _now(now)
    _positive(amount, "points")
    request = _Request(
        "redeem", POINTS, member_id, amount, idempotency_key, reason, source_type, source_ref
    )
    return await _run(
        scope, request, _spend_points_write(scope, request, "redeem", now), uow, claims=True
    )


async def adjust_points(
    scope: BrandScope,
    member_id: int,
    amount: int,
    *,
    idempotency_key: str,
    reason: str,
    source_type: str = "admin",
    source_ref: str | None = None,
    now: datetime | None = None,
    uow: UnitOfWork | None = None,
) -> LedgerResult:
    """An operator's correction: a positive ``amount`` adds a lot (expiring per
    the policy), a negative one takes points like a redemption. ``reason`` is
    required; the actor is recorded on the entry."""
    now = _now(now)
    if isinstance(amount, bool) or not isinstance(amount, int) or amount == 0:
        raise DomainError("INVALID_AMOUNT", "must be a whole number other than zero", ["points"])
    _positive(abs(amount), "points")
    if not reason.strip():
        raise DomainError("REQUIRED", "say why the points are adjusted", ["reason"])
    request = _Request(
        "adjust", POINTS, member_id, amount, idempotency_key, reason, source_type, source_ref
    )
    if amount > 0:
        write = _earn_write(scope, request, "adjust", now, None)
    else:
        write = _spend_points_write(scope, request, "adjust", now)
    return await _run(scope, request, write, uow, claims=True)


async def refund_points(
    scope: BrandScope,
    member_id: int,
    amount: int,
    *,
    idempotency_key: str,
    reason: str,
    source_type: str,
    source_ref: str | None = None,
    now: datetime | None = None,
    uow: UnitOfWork | None = None,
) -> LedgerResult:
    """Give back ``amount`` points the member spent on a source that was
    refunded (a ``refund`` entry), as a new lot expiring per the brand's
    policy from ``now``."""
    now = _now(now)
    _positive(amount, "points")
    request = _Request(
        "refund", POINTS, member_id, amount, idempotency_key, reason, source_type, source_ref
    )
    return await _run(
        scope, request, _earn_write(scope, request, "refund", now, None), uow, claims=True
    )


async def recorded(
    scope: BrandScope, idempotency_key: str, using_db: Any = None
) -> LedgerResult | None:
    """What the write with ``idempotency_key`` recorded, as a replay; None
    when there was none. For callers whose own checks could refuse a retry
    although the first call went through: they look here first."""
    entries = (
        await scope.query(LedgerEntry)
        .using_db(using_db)
        .filter(idempotency_key__in=[idempotency_key, _part_key(idempotency_key, 2)])
        .order_by("id")
    )
    if not entries:
        return None
    return LedgerResult(entries, entries[-1].balance_after, replayed=True)


async def reverse_points(
    scope: BrandScope,
    *,
    source_type: str,
    source_ref: str,
    amount: int,
    idempotency_key: str,
    reason: str = "",
    member_id: int | None = None,
    now: datetime | None = None,
    uow: UnitOfWork | None = None,
) -> LedgerResult:
    """Take back ``amount`` of the points a source (an order) earned
    ``member_id`` (None: the one member it earned for), e.g. on a refund.
    Pending points of that source are cancelled first (a ``cancel`` entry);
    the rest comes from the available balance (a ``reverse`` entry), that
    source's own lots first, per the brand's negative-balance policy:
    ``ALLOW_NEGATIVE`` takes it all, ``CAP_AT_ZERO`` takes what there is and
    writes the rest off. Never more than the source earned and is not yet
    reversed (``EXCEEDS_EARNED``)."""
    now = _now(now)
    _positive(amount, "amount")
    earned = await _source_entries(
        scope, POINTS, source_type, source_ref, ("earn", "pending"), member_id, uow
    )
    member_id = earned[0].member_id
    earned_ids = [e.id for e in earned]
    request = _Request(
        "reverse", POINTS, member_id, amount, idempotency_key, reason, source_type, source_ref
    )

    async def write(uow: UnitOfWork, fingerprint: str) -> LedgerResult:
        conn = uow.connection
        moved = await _lock(conn, scope, member_id, POINTS, now)
        await _check_reversible(scope, conn, request, sum(e.amount for e in earned))
        entries: list[LedgerEntry] = []
        cancelled = await lots.cancel_pending(conn, scope, moved.account_id, earned_ids, amount)
        if cancelled:
            moved = await _move(conn, scope, member_id, POINTS, now, pending=-cancelled)
            entry = await _entry(uow, request, fingerprint, moved, "cancel", -cancelled, now, 1)
            emit_changed(uow, entry, moved)
            entries.append(entry)
        rest = amount - cancelled
        if rest:
            policy = await get_policy(scope, conn)
            have = max(moved.balance, 0)
            take = (
                rest
                if policy.negative_balance == NegativeBalance.ALLOW_NEGATIVE
                else min(rest, have)
            )
            if take:
                moved = await _move(conn, scope, member_id, POINTS, now, balance=-take)
            await lots.consume(conn, scope, moved.account_id, min(take, have), first=earned_ids)
            note = f" ({rest - take} written off: balance too low)" if take < rest else ""
            entry = await _entry(
                uow,
                request,
                fingerprint,
                moved,
                "reverse",
                -take,
                now,
                len(entries) + 1,
                reason=(reason + note).strip(),
            )
            emit_changed(uow, entry, moved)
            entries.append(entry)
        return LedgerResult(entries, moved.balance)

    return await _run(scope, request, write, uow)


async def redeem_reserved_points(
    scope: BrandScope,
    member_id: int,
    amount: int,
    *,
    idempotency_key: str,
    reason: str,
    source_type: str,
    source_ref: str | None = None,
    now: datetime | None = None,
    uow: UnitOfWork | None = None,
) -> LedgerResult:
    """Spend ``amount`` points a checkout hold reserved: the balance and the
    reserved counter drop together (a ``redeem`` entry, lots consumed
    soonest-expiring first). ``INSUFFICIENT_POINTS`` when the account no longer
    reserves or holds that many (a reversal took them meanwhile)."""
    now = _now(now)
    _positive(amount, "points")
    request = _Request(
        "redeem", POINTS, member_id, amount, idempotency_key, reason, source_type, source_ref
    )

    async def write(uow: UnitOfWork, fingerprint: str) -> LedgerResult:
        moved = await accounts.change(
            uow.connection, scope, member_id, POINTS, now, balance=-amount, reserved=-amount
        )
        if moved is None or moved.balance < 0:
            raise DomainError(
                "INSUFFICIENT_POINTS", "the held points are no longer there", ["points"]
            )
        entry = await _entry(
            uow, request, fingerprint, moved, "redeem", -amount, now, consume=amount
        )
        emit_changed(uow, entry, moved)
        return LedgerResult([entry], moved.balance)

    return await _run(scope, request, write, uow)


def pending_window_end(scope: BrandScope, now: datetime, policy: PolicyValues) -> datetime | None:
    """When purchase points earned ``now`` are released under the brand's
    ``policy`` (:func:`tessera.assets.policy.get_policy`); None: not held."""
    return pending_until(policy, scope.brand.timezone, now)


# --- stored value and growth --------------------------------------------------


async def top_up_stored_value(
    scope: BrandScope,
    member_id: int,
    amount: int,
    *,
    idempotency_key: str,
    reason: str = "",
    source_type: str = "",
    source_ref: str | None = None,
    now: datetime | None = None,
    uow: UnitOfWork | None = None,
) -> LedgerResult:
    """Add ``amount`` minor units to the member's stored value."""
    return await _credit_plain(
        scope,
        STORED_VALUE,
        "top_up",
        member_id,
        amount,
        idempotency_key,
        reason,
        source_type,
        source_ref,
        now,
        uow,
    )


async def spend_stored_value(
    scope: BrandScope,
    member_id: int,
    amount: int,
    *,
    idempotency_key: str,
    reason: str = "",
    source_type: str = "",
    source_ref: str | None = None,
    now: datetime | None = None,
    uow: UnitOfWork | None = None,
) -> LedgerResult:
    """Take ``amount`` minor units; ``INSUFFICIENT_BALANCE`` when there is less."""
    now = _now(now)
    _positive(amount, "amount", STORED_VALUE)
    request = _Request(
        "spend", STORED_VALUE, member_id, amount, idempotency_key, reason, source_type, source_ref
    )

    async def write(uow: UnitOfWork, fingerprint: str) -> LedgerResult:
        moved = await _debit(uow, scope, request, now, "INSUFFICIENT_BALANCE", "amount")
        entry = await _entry(uow, request, fingerprint, moved, "spend", -amount, now)
        emit_changed(uow, entry, moved)
        return LedgerResult([entry], moved.balance)

    return await _run(scope, request, write, uow, claims=True)


async def earn_growth(
    scope: BrandScope,
    member_id: int,
    amount: int,
    *,
    idempotency_key: str,
    reason: str,
    source_type: str,
    source_ref: str | None = None,
    now: datetime | None = None,
    uow: UnitOfWork | None = None,
) -> LedgerResult:
    """Add growth value (it never expires and is never spent)."""
    return await _credit_plain(
        scope,
        GROWTH,
        "earn",
        member_id,
        amount,
        idempotency_key,
        reason,
        source_type,
        source_ref,
        now,
        uow,
    )


async def reverse_growth(
    scope: BrandScope,
    *,
    source_type: str,
    source_ref: str,
    amount: int,
    idempotency_key: str,
    reason: str = "",
    member_id: int | None = None,
    now: datetime | None = None,
    uow: UnitOfWork | None = None,
) -> LedgerResult:
    """Take back growth value a source earned ``member_id`` (None: the one
    member it earned for); growth never goes below zero."""
    now = _now(now)
    _positive(amount, "amount")
    earned = await _source_entries(
        scope, GROWTH, source_type, source_ref, ("earn",), member_id, uow
    )
    member_id = earned[0].member_id
    request = _Request(
        "reverse", GROWTH, member_id, amount, idempotency_key, reason, source_type, source_ref
    )

    async def write(uow: UnitOfWork, fingerprint: str) -> LedgerResult:
        conn = uow.connection
        moved = await _lock(conn, scope, member_id, GROWTH, now)
        await _check_reversible(scope, conn, request, sum(e.amount for e in earned))
        take = min(amount, max(moved.balance, 0))
        if take:
            moved = await _move(conn, scope, member_id, GROWTH, now, balance=-take)
        entry = await _entry(uow, request, fingerprint, moved, "reverse", -take, now)
        emit_changed(uow, entry, moved)
        return LedgerResult([entry], moved.balance)

    return await _run(scope, request, write, uow)


async def balances(scope: BrandScope, member_ids: Iterable[int]) -> dict[int, Balances]:
    """Every given member's balances in one query (zero for a member without
    an account of a kind)."""
    ids = list(member_ids)
    found: dict[int, dict[str, int]] = {m: {} for m in ids}
    rows = (
        await scope.query(AssetAccount)
        .filter(member_id__in=ids)
        .values_list("member_id", "kind", "balance", "pending", "reserved")
    )
    for member_id, kind, balance, pending, reserved in rows:
        values = found[member_id]
        if kind == POINTS:
            values["points"], values["pending_points"] = balance, pending
            values["reserved_points"] = reserved
        else:
            values[kind] = balance
    return {m: Balances(**values) for m, values in found.items()}


# --- the shared machinery -----------------------------------------------------


async def _run(
    scope: BrandScope,
    request: _Request,
    write: Write,
    uow: UnitOfWork | None,
    *,
    claims: bool = False,
) -> LedgerResult:
    """``claims``: ``write`` claims its key on PostgreSQL (its account change
    through :func:`_credit` or :func:`_debit`, its entry through
    :func:`_entry`), so no statement of it fails on a replay."""
    # No read before the write: a first call (the common case) costs only its
    # statements. A replay is found when its entry insert finds the key taken
    # (claimed, or failing on the unique key), or when the write is refused
    # (a redeem replayed after the balance fell).
    _check_key(request.idempotency_key)
    fingerprint = request.fingerprint()
    conn = uow.connection if uow is not None else None
    claims = claims and _claims(conn or connections.get("default"))
    # More than once only for a merge's tombstone (and a chain of merges).
    for _ in range(_MAX_REDIRECTS):
        wrote = False
        try:
            # Within the caller's transaction, a savepoint unless the write
            # claims its key: a replay found by a failed insert rolls back
            # only ours.
            async with unit_of_work(scope, uow, join=claims) as work:
                result = await write(work, fingerprint)
                wrote = True
            return result
        except _Merged as merged:
            # The member is a merge's tombstone (perhaps merged while this
            # call waited for its account): a replay of a write made before
            # the merge answers as such, anything else lands on the survivor.
            found = await _replay(scope, request, fingerprint, conn)
            if found is not None:
                return found
            request.member_id = merged.survivor_id
        except _Claimed:
            # The key was taken (by a call that committed, perhaps while this
            # one waited for it): what it recorded is visible now.
            found = await _replay(scope, request, fingerprint, conn)
            if found is None:
                raise lots.LotsInconsistent(
                    f"idempotency key {request.idempotency_key!r} taken by no entry"
                ) from None
            return found
        except (IntegrityError, DomainError) as error:
            # Not a replay: a failure of the unit of work after the write
            # (joined, its statements would stay and read as our own replay),
            # or a claiming write's failed statement (it fails none on a
            # replay; this one aborted the caller's transaction).
            if wrote or (claims and isinstance(error, IntegrityError)):
                raise
            found = await _replay(scope, request, fingerprint, conn)
            if found is None:
                raise
            return found
    raise _unknown_member()


_MAX_REDIRECTS = 8


class _Claimed(Exception):
    """A claiming write's idempotency key is taken: nothing was written."""


def _claims(conn: Any) -> bool:
    """Whether single-entry writes on ``conn`` claim their idempotency key
    (:func:`_run`): PostgreSQL. SQLite keeps its savepoint (it has no row
    lock to hold an account by; it runs one writer at a time)."""
    return bool(conn.capabilities.dialect == "postgres")


class _Merged(Exception):
    """The member written to is a merge's tombstone."""

    def __init__(self, survivor_id: int) -> None:
        super().__init__(survivor_id)
        self.survivor_id = survivor_id


async def _exists(scope: BrandScope, conn: Any, member_id: int) -> bool:
    """Whether the brand has ``member_id``; a merge's tombstone raises
    :class:`_Merged` instead (the write is redirected)."""
    row = (
        await scope.query(Member)
        .using_db(conn)
        .filter(id=member_id)
        .values_list("merged_into_id", flat=True)
    )
    if row and row[0] is not None:
        raise _Merged(int(row[0]))  # type: ignore[call-overload]
    return bool(row)


async def _replay(
    scope: BrandScope, request: _Request, fingerprint: str, conn: Any
) -> LedgerResult | None:
    found = await recorded(scope, request.idempotency_key, conn)
    if found is not None and found.entries[0].fingerprint != fingerprint:
        raise conflict()
    return found


def _part_key(key: str, part: int) -> str:
    return key if part == 1 else f"{RESERVED_PREFIX}{part}:{key}"


def _check_key(key: str) -> None:
    stored_key(key)
    if key.startswith(RESERVED_PREFIX):
        # Tessera's own entries (expiry, release, a reversal's second part) use
        # these keys; a caller holding one would block them for good.
        raise DomainError(
            "INVALID", f"keys starting with {RESERVED_PREFIX!r} are reserved", ["idempotencyKey"]
        )


def _now(now: datetime | None) -> datetime:
    return now or datetime.now(UTC)


def _positive(amount: int, field: str, kind: str = POINTS) -> None:
    if isinstance(amount, bool) or not isinstance(amount, int):
        raise DomainError("INVALID_AMOUNT", "must be a whole number", [field])
    if amount <= 0:
        raise DomainError("INVALID_AMOUNT", "must be greater than zero", [field])
    most = MAX_AMOUNT if kind == STORED_VALUE else MAX_POINTS_ENTRY
    if amount > most:
        raise DomainError("AMOUNT_TOO_LARGE", f"must be at most {most:,} at a time", [field])


def _ceiling(kind: str) -> int:
    return MAX_STORED_VALUE if kind == STORED_VALUE else MAX_BALANCE


def _unknown_member() -> DomainError:
    return DomainError("NOT_FOUND", "no such member", ["memberId"])


async def _move(
    conn: Any,
    scope: BrandScope,
    member_id: int,
    kind: str,
    now: datetime,
    *,
    balance: int = 0,
    pending: int = 0,
) -> Moved:
    moved = await accounts.change(
        conn, scope, member_id, kind, now, balance=balance, pending=pending
    )
    if moved is None:
        raise lots.LotsInconsistent(f"account {kind} of member {member_id} refused a locked change")
    return moved


async def _lock(conn: Any, scope: BrandScope, member_id: int, kind: str, now: datetime) -> Moved:
    moved = await accounts.lock(conn, scope, member_id, kind, now)
    if moved is None:  # the source's entries were written to this very account
        raise lots.LotsInconsistent(f"account {kind} of member {member_id} is missing")
    return moved


async def _change(
    conn: Any, scope: BrandScope, member_id: int, kind: str, now: datetime, change: dict[str, Any]
) -> Moved | None:
    """A claiming write's account change: applied now on SQLite; on
    PostgreSQL only held (the account locked), applied with the entry once
    it has claimed its key (:func:`_entry`)."""
    if _claims(conn):
        return await accounts.hold(conn, scope, member_id, kind, **change)
    return await accounts.change(conn, scope, member_id, kind, now, **change)


async def _credit(
    uow: UnitOfWork,
    scope: BrandScope,
    request: _Request,
    now: datetime,
    *,
    pending: bool = False,
    field: str = "points",
    with_policy: bool = False,
) -> Moved:
    conn, member_id, kind = uow.connection, request.member_id, request.kind
    change: dict[str, Any] = {"pending": request.amount} if pending else {"balance": request.amount}
    change.update(ceiling=_ceiling(kind), with_policy=with_policy)
    moved = await _change(conn, scope, member_id, kind, now, change)
    if moved is None:
        await accounts.open_account(conn, scope, member_id, kind, now)
        moved = await _change(conn, scope, member_id, kind, now, change)
    if moved is not None:
        return moved
    if (
        not await scope.query(AssetAccount)
        .using_db(conn)
        .filter(member_id=member_id, kind=kind)
        .exists()
    ):
        await _exists(scope, conn, member_id)
        raise _unknown_member()
    raise DomainError(
        "BALANCE_LIMIT",
        f"an account holds at most {_ceiling(kind):,}; this would pass it",
        [field],
    )


async def _debit(
    uow: UnitOfWork, scope: BrandScope, request: _Request, now: datetime, code: str, field: str
) -> Moved:
    conn, amount = uow.connection, abs(request.amount)
    change = {"balance": -amount, "floor": 0}
    moved = await _change(conn, scope, request.member_id, request.kind, now, change)
    if moved is not None:
        return moved
    if not await _exists(scope, conn, request.member_id):
        raise _unknown_member()
    have = (
        await scope.query(AssetAccount)
        .using_db(conn)
        .filter(member_id=request.member_id, kind=request.kind)
        .values_list("balance", "reserved")
    )
    balance, reserved = (int(have[0][0]), int(have[0][1])) if have else (0, 0)
    if reserved:
        raise DomainError(
            code,
            f"{balance - reserved} are available ({reserved} held for checkouts), "
            f"less than {amount}",
            [field],
        )
    raise DomainError(code, f"the balance is {balance}, less than {amount}", [field])


async def _entry(
    uow: UnitOfWork,
    request: _Request,
    fingerprint: str,
    moved: Moved,
    entry_type: str,
    amount: int,
    now: datetime,
    part: int = 1,
    *,
    reason: str | None = None,
    lot: dict[str, Any] | None = None,
    consume: int | None = None,
) -> LedgerEntry:
    scope = uow.scope
    values = {
        "brand_id": scope.brand_id,
        "account_id": moved.account_id,
        "member_id": request.member_id,
        "kind": request.kind,
        "entry_type": entry_type,
        "amount": amount,
        "balance_after": moved.balance,
        "reason": request.reason if reason is None else reason,
        "source_type": request.source_type,
        "source_ref": request.source_ref,
        "idempotency_key": _part_key(request.idempotency_key, part),
        "fingerprint": fingerprint,
        "actor": str(scope.actor)[:200],
        "occurred_at": now.astimezone(UTC),
        "created_at": datetime.now(UTC),
    }
    held = moved if moved.held is not None else None
    if consume is not None:
        return await _insert_spending_entry(uow.connection, scope, values, consume, held)
    return await _insert_entry(uow.connection, scope, values, lot, held)


async def _insert_spending_entry(
    conn: Any, scope: BrandScope, values: dict[str, Any], amount: int, held: Moved | None = None
) -> LedgerEntry:
    """Insert the entry of ``values`` and take ``amount`` points from the
    account's lots (:func:`tessera.assets.lots.consume`): one round trip on
    PostgreSQL, where the redemption used to read its lots and update each
    in statements of their own. The caller holds the account's row lock (it
    moved or ``held`` the balance first), so the lots read here cannot
    change under it. With ``held`` the entry claims its key and the
    account's change is applied in the same statement (:func:`_claimed`)."""
    if conn.capabilities.dialect != "postgres":
        entry = await _insert_entry(conn, scope, values)
        await lots.consume(conn, scope, values["account_id"], amount)
        return entry
    claims = held is not None
    ctes, lot_params = lots.consume_sql(
        scope, values["account_id"], amount, "entry" if claims else None
    )
    sql = f"WITH entry AS ({_insert_sql('ledger_entry', values, claims)} RETURNING id), {ctes}"
    params = [*values.values(), *lot_params]
    if held is not None:
        move, move_params = accounts.apply_sql(scope, held, values["occurred_at"], "entry")
        sql += f", moved AS ({move})"
        params += move_params
    sql += (
        " SELECT (SELECT id FROM entry) AS id, (SELECT count(*) FROM lots_take) AS planned, "
        "(SELECT count(*) FROM lots_done) AS taken"
    )
    if held is not None:
        sql += ", (SELECT balance FROM moved) AS balance, (SELECT pending FROM moved) AS pending"
    rows = await conn.execute_query_dict(numbered(conn, sql), params)
    if rows[0]["planned"] != rows[0]["taken"]:
        account = values["account_id"]
        raise lots.LotsInconsistent(f"a lot of account {account} changed under its lock")
    return _claimed(rows[0], values, held)


async def _insert_entry(
    conn: Any,
    scope: BrandScope,
    values: dict[str, Any],
    lot: dict[str, Any] | None = None,
    held: Moved | None = None,
) -> LedgerEntry:
    """Insert the entry of ``values`` (every column but ``id``), and the points
    lot of ``lot`` for it (every column but ``id`` and ``entry_id``): hand-built
    statements on the hottest write (the ORM's query building cost more than
    the insert), one round trip for both on PostgreSQL. A replayed key fails
    on the unique key as an ORM insert would (IntegrityError), except with
    ``held`` (PostgreSQL): the entry claims its key and the account's change
    is applied in the same statement (:func:`_claimed`)."""
    postgres = conn.capabilities.dialect == "postgres"
    sql = _insert_sql("ledger_entry", values, held is not None) + " RETURNING id"
    params = list(values.values())
    both = lot is not None and postgres
    if both or held is not None:
        sql = f"WITH entry AS ({sql})"
        if lot is not None and both:
            # From the entry's row: no lot when a claiming entry did not go in.
            columns = ", ".join([*lot, "entry_id"])
            sql += f", lot AS (INSERT INTO points_lot ({columns}) "
            sql += f"SELECT {', '.join('?' * len(lot))}, id FROM entry)"
            params += list(lot.values())
        if held is not None:
            move, move_params = accounts.apply_sql(scope, held, values["occurred_at"], "entry")
            sql += f", moved AS ({move}) SELECT entry.id, moved.balance, moved.pending "
            sql += "FROM entry LEFT JOIN moved ON true"
            params += move_params
        else:
            sql += " SELECT id FROM entry"
    rows = await conn.execute_query_dict(numbered(conn, sql), params)
    entry = _claimed(rows[0] if rows else {"id": None}, values, held)
    if lot is not None and not both:
        lot_values = {**lot, "entry_id": entry.id}
        await conn.execute_query(
            numbered(conn, _insert_sql("points_lot", lot_values)),
            list(lot_values.values()),
        )
    return entry


def _claimed(row: dict[str, Any], values: dict[str, Any], held: Moved | None) -> LedgerEntry:
    """The entry inserted as ``row`` says. With ``held``: no entry means its
    key was taken (:class:`_Claimed`, nothing written: the lots and the
    account moved only with it); with one, the account must have moved to
    what :func:`tessera.assets.accounts.hold` planned, as its row was locked
    since (the entry and its lot carry those figures)."""
    if row["id"] is None:  # only with held: without, a taken key fails the insert
        raise _Claimed
    if held is not None and (row["balance"], row["pending"]) != (held.balance, held.pending):
        raise lots.LotsInconsistent(f"account {held.account_id} changed under its lock")
    return LedgerEntry._init_from_db(id=row["id"], **values)


# A claiming entry's insert: nothing when another entry of the brand has its
# key (committed, or committed while this one waited for it).
_ON_KEY = " ON CONFLICT (brand_id, idempotency_key) DO NOTHING"


def _insert_sql(table: str, values: dict[str, Any], claims: bool = False) -> str:
    # Table and column names are this module's constants; values are parameters.
    # ``claims``: an entry's insert that does nothing when its key is taken.
    columns = ", ".join(values)
    sql = f"INSERT INTO {table} ({columns}) VALUES ({', '.join('?' * len(values))})"
    return sql + _ON_KEY if claims else sql


def emit_changed(uow: UnitOfWork, entry: LedgerEntry, moved: Moved) -> None:
    """``points.changed`` (or ``stored_value.changed``, ``growth.changed``) for
    ``entry``: ``delta`` is what it did to the balance, ``pending_delta`` to the
    held points; ``balance`` and ``pending`` are the account's after it."""
    emit_entry_changed(
        uow,
        entry.kind,
        entry.member_id,
        entry.id,
        entry.entry_type,
        entry.amount,
        entry.source_type,
        entry.source_ref,
        moved,
    )


def emit_entry_changed(
    uow: UnitOfWork,
    kind: str,
    member_id: int,
    entry_id: int,
    entry_type: str,
    amount: int,
    source_type: str,
    source_ref: str | None,
    moved: Moved,
) -> None:
    """:func:`emit_changed` of an entry given by its columns (a batch writes
    thousands of entries as plain rows, with no instance to hand)."""
    held = entry_type in ("pending", "cancel")
    uow.emit(
        EVENTS[kind],
        member_id=member_id,
        entry_id=entry_id,
        entry_type=entry_type,
        delta=0 if held else amount,
        pending_delta=amount if held else (-amount if entry_type == "release" else 0),
        balance=moved.balance,
        pending=moved.pending,
        source_type=source_type,
        source_ref=source_ref,
    )


def _earn_write(
    scope: BrandScope, request: _Request, entry_type: str, now: datetime, held: datetime | None
) -> Write:
    async def write(uow: UnitOfWork, fingerprint: str) -> LedgerResult:
        conn = uow.connection
        moved = await _credit(uow, scope, request, now, pending=held is not None, with_policy=True)
        policy = moved.policy if moved.policy is not None else await get_policy(scope, conn)
        kind = "pending" if held is not None else entry_type
        lot = lots.new_lot(
            scope,
            account_id=moved.account_id,
            amount=request.amount,
            balance_after=moved.balance,
            earned_at=now,
            expires_at=expires_at(policy, scope.brand.timezone, now),
            available_at=held,
        )
        entry = await _entry(uow, request, fingerprint, moved, kind, request.amount, now, lot=lot)
        emit_changed(uow, entry, moved)
        return LedgerResult([entry], moved.balance)

    return write


def _spend_points_write(
    scope: BrandScope, request: _Request, entry_type: str, now: datetime
) -> Write:
    async def write(uow: UnitOfWork, fingerprint: str) -> LedgerResult:
        amount = abs(request.amount)
        moved = await _debit(uow, scope, request, now, "INSUFFICIENT_POINTS", "points")
        entry = await _entry(
            uow, request, fingerprint, moved, entry_type, -amount, now, consume=amount
        )
        emit_changed(uow, entry, moved)
        return LedgerResult([entry], moved.balance)

    return write


async def _credit_plain(
    scope: BrandScope,
    kind: str,
    entry_type: str,
    member_id: int,
    amount: int,
    idempotency_key: str,
    reason: str,
    source_type: str,
    source_ref: str | None,
    now: datetime | None,
    uow: UnitOfWork | None,
) -> LedgerResult:
    at = _now(now)
    _positive(amount, "amount", kind)
    request = _Request(
        entry_type, kind, member_id, amount, idempotency_key, reason, source_type, source_ref
    )

    async def write(uow: UnitOfWork, fingerprint: str) -> LedgerResult:
        moved = await _credit(uow, scope, request, at, field="amount")
        entry = await _entry(uow, request, fingerprint, moved, entry_type, amount, at)
        emit_changed(uow, entry, moved)
        return LedgerResult([entry], moved.balance)

    return await _run(scope, request, write, uow, claims=True)


async def _source_entries(
    scope: BrandScope,
    kind: str,
    source_type: str,
    source_ref: str,
    types: tuple[str, ...],
    member_id: int | None,
    uow: UnitOfWork | None,
) -> list[LedgerEntry]:
    # One source may have earned for several members (a rule may award someone
    # else on an order): a reversal takes back one member's share only.
    query = (
        scope.query(LedgerEntry)
        .using_db(uow.connection if uow is not None else None)
        .filter(kind=kind, source_type=source_type, source_ref=source_ref, entry_type__in=types)
    )
    if member_id is not None:
        query = query.filter(member_id=member_id)
    entries = list(await query.order_by("id"))
    if not entries:
        raise DomainError(
            "NOT_FOUND", f"nothing was earned from {source_type} {source_ref}", ["sourceRef"]
        )
    if len({e.member_id for e in entries}) > 1:
        raise DomainError(
            "INVALID",
            f"{source_type} {source_ref} earned for several members: name one",
            ["memberId"],
        )
    return entries


async def _check_reversible(scope: BrandScope, conn: Any, request: _Request, earned: int) -> None:
    # Under the account lock, so concurrent reversals of one source count each other.
    reversed_amounts = (
        await scope.query(LedgerEntry)
        .using_db(conn)
        .filter(
            kind=request.kind,
            member_id=request.member_id,
            source_type=request.source_type,
            source_ref=request.source_ref,
            entry_type__in=("reverse", "cancel"),
        )
        .values_list("amount", flat=True)
    )
    left = earned + sum(reversed_amounts)  # type: ignore[arg-type]
    if request.amount > left:
        raise DomainError(
            "EXCEEDS_EARNED",
            f"only {left} of what this source earned is left to reverse",
            ["amount"],
        )
