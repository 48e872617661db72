"""Merging two members of one brand into one (docs/merge.md).

Everything of the *merged* member moves to the *survivor* in one
transaction, by set-based updates (``UPDATE … SET member_id = survivor WHERE
member_id = merged``), never row by row in Python: identities, tags, orders
and refunds, behaviour events, coupons and their allowances, checkout holds,
check-ins, referrals, tier history, and the ledgers. An account of the same
asset combines: the merged account's entries and lots move to the
survivor's account (with their history and idempotency keys, so replays keep
being recognised), the survivor's balance, pending and reserved amounts grow
by the merged account's in one conditional statement, and a ``merge`` entry
of amount 0 records the combined balance (the newest entry's
``balance_after`` is the balance, as ``tessera ledger verify`` checks).

The merged member stays as a tombstone (status ``merged``,
``merged_into_id``): its id keeps resolving to the survivor for reads and
writes (:func:`resolve`), and its identities now belong to the survivor.

Both members' rows are locked first, lower id first (``SELECT … FOR UPDATE``
on PostgreSQL; SQLite has one writer), then their accounts in the same
order, so a concurrent write to either member waits for the merge or is
waited for, and a write that arrives after it finds the tombstone and lands
on the survivor (:mod:`tessera.assets.service` follows ``merged_into_id``).
"""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import UTC, date, datetime, timedelta
from typing import Any

from tortoise.exceptions import IntegrityError
from tortoise.expressions import F, Q, Subquery

from tessera.assets import accounts, lots
from tessera.assets.models import AssetAccount, LedgerEntry, PointsLot
from tessera.audit import service as audit
from tessera.behaviour.models import BehaviourEvent
from tessera.campaigns.models import CampaignRecipient
from tessera.channels.models import ChannelConsent, DoNotContact, Message
from tessera.checkout.models import RewardHold
from tessera.coupons.models import Coupon, CouponAllowance, CouponRedemption
from tessera.db import numbered
from tessera.errors import DomainError
from tessera.idempotency import conflict, fingerprint, stored_key
from tessera.members.models import DuplicateCandidate, Member, MemberIdentity, MemberMerge
from tessera.members.profile import MemberStatus
from tessera.orders.models import Order, Refund
from tessera.orders.stats import rebuild_member_stats
from tessera.persons import linking as persons
from tessera.reports.rollup import mark_dirty, mark_member_dirty
from tessera.rewards.models import CheckIn, Referral
from tessera.scope import BrandScope
from tessera.segments.models import MemberLifecycle, SegmentMembership
from tessera.slots.models import MemberCluster, SlotEvent
from tessera.tags.models import TagAssignment
from tessera.tiers.models import MemberTierState, TierHistory
from tessera.uow import UnitOfWork, unit_of_work

UNDO_WINDOW = timedelta(days=7)
KINDS = ("points", "stored_value", "growth")
# Profile columns where the survivor's value wins unless it is empty.
PROFILE_FIELDS = (
    "name",
    "gender",
    "birthday",
    "province",
    "city",
    "education",
    "occupation",
    "income_range",
    "interests",
    "join_channel",
    "join_source",
)
# Identity columns: the survivor keeps its own; an empty one takes the merged
# member's (whose identity rows move too). Unique per brand, so the tombstone
# gives them up.
IDENTITY_COLUMNS = ("phone", "email", "external_id", "card_number")
# Phone and email are stored sealed (docs/privacy.md): compared in clear,
# copied as the sealed column (one brand, one key).
_SEALED_COLUMNS = {"phone": "phone_sealed", "email": "email_sealed"}
_UNIQUE_COLUMNS = ("external_id", "card_number")


@dataclass(frozen=True)
class Conflict:
    """A field both members had with different values: ``kept`` is the
    survivor's, ``dropped`` the merged member's (kept in the audit entry)."""

    field: str
    kept: Any
    dropped: Any


@dataclass(frozen=True)
class MergeResult:
    merge: MemberMerge
    survivor: Member
    conflicts: list[Conflict]
    replayed: bool = False


@dataclass
class _Moved:
    """The ids of the rows a merge moved, by table (for undo)."""

    ids: dict[str, Any] = field(default_factory=dict)

    async def move(self, name: str, query: Any, column: str, survivor_id: int, **more: Any) -> None:
        """Move the rows of ``query`` (a scoped queryset) to the survivor in
        one statement, remembering their ids first."""
        ids = list(await query.values_list("id", flat=True))
        if ids:
            await query.update(**{column: survivor_id, **more})
            self.ids[name] = sorted(ids)


def _empty(value: Any) -> bool:
    return value in (None, "", [], {}, "unknown")


def _jsonable(value: Any) -> Any:
    return value.isoformat() if isinstance(value, date) else value


def _now() -> datetime:
    return datetime.now(UTC)


async def resolve(scope: BrandScope, member_id: int) -> int:
    """The member ``member_id`` stands for now: itself, or the survivor its
    tombstone was merged into (one query; a chain of merges is followed)."""
    seen = {member_id}
    current = member_id
    while True:
        rows = await scope.query(Member).filter(id=current).values_list("merged_into_id", flat=True)
        if not rows or rows[0] is None or rows[0] in seen:
            return current
        current = int(rows[0])  # type: ignore[call-overload]
        seen.add(current)


# pg_advisory_xact_lock's first key: this lock's namespace; the second is the brand.
_MERGE_LOCK = 7_336_102


async def _merge_lock(scope: BrandScope, connection: Any, *, alone: bool) -> None:
    if connection.capabilities.dialect != "postgres":
        return
    function = "pg_advisory_xact_lock" if alone else "pg_advisory_xact_lock_shared"
    await connection.execute_query(f"SELECT {function}($1, $2)", [_MERGE_LOCK, int(scope.brand_id)])


async def hold_off_merges(scope: BrandScope, connection: Any) -> None:
    """Taken first in the unit of work of every writer that stores rows for a
    member it was named (orders, behaviour events), *before* it reads which
    member that is; the merge takes it ``alone`` before any other lock.

    Row locks cannot close this gap: an insert only takes ``FOR KEY SHARE``
    on the member, which the merge's ``FOR NO KEY UPDATE`` lets through (a
    stronger merge lock deadlocks with a writer that holds its key lock and
    then waits for its accounts), and the merge's ``UPDATE … WHERE member_id
    = merged`` does not see a row not committed yet; a sweep after the merge
    is only safe if something waits for every late writer, which is this
    lock again. With it a writer either commits before the merge starts
    (its rows are then moved) or reads its member after the merge committed
    (and finds the tombstone, so writes for the survivor). The lock is the
    first either side takes, so it cannot deadlock with the merge's order
    (accounts, then members) or the writer's (stats, tier states, accounts).
    Shared between writers, so orders never wait for each other here; keyed
    by brand. SQLite has one writer and its unit of work reads fresh."""
    await _merge_lock(scope, connection, alone=False)


async def survivors(scope: BrandScope, connection: Any, member_ids: Any) -> dict[int, int]:
    """The survivor each tombstone among ``member_ids`` stands for now (one
    query; a chain of merges costs one more per link). Call after
    :func:`hold_off_merges`, in the same unit of work."""
    found: dict[int, int] = {}
    current = {int(i) for i in member_ids}
    for _ in range(8):  # merges refuse tombstones: a chain is short, never a cycle
        if not current:
            break
        rows = await (
            scope.query(Member)
            .using_db(connection)
            .filter(id__in=current, merged_into_id__isnull=False)
            .values_list("id", "merged_into_id")
        )
        step = {int(a): int(b) for a, b in rows}  # type: ignore[misc]
        if not step:
            break
        for start, target in list(found.items()):
            found[start] = step.get(target, target)
        if not found:
            found = step
        current = set(step.values())
    return found


async def merge_members(
    scope: BrandScope,
    survivor_id: int,
    merged_id: int,
    *,
    idempotency_key: str,
    automatic: bool = False,
    now: datetime | None = None,
) -> MergeResult:
    """Merge ``merged_id`` into ``survivor_id`` (see the module's doc).

    Refused with ``MERGE_SELF`` for one member, ``NOT_FOUND`` for a member
    the brand does not have (another brand's included), ``MEMBER_MERGED``
    when either is already a tombstone, ``MEMBER_ERASED`` for an erased
    member. Idempotent on ``idempotency_key``:
    the same key and members answer the first merge; other members under it
    are ``IDEMPOTENCY_CONFLICT``."""
    key = stored_key(idempotency_key)
    print_ = fingerprint(["merge", survivor_id, merged_id])
    done = await scope.query(MemberMerge).filter(idempotency_key=key).first()
    if done is not None:
        return await _replay(scope, done, print_)
    if survivor_id == merged_id:
        raise DomainError("MERGE_SELF", "a member cannot be merged into itself", ["mergedId"])
    found = {m.id: m for m in await scope.query(Member).filter(id__in=[survivor_id, merged_id])}
    for member_id, name in ((survivor_id, "survivorId"), (merged_id, "mergedId")):
        member = found.get(member_id)
        if member is None:
            raise DomainError("NOT_FOUND", "no such member", [name])
        if member.merged_into_id is not None:
            raise DomainError(
                "MEMBER_MERGED", "this member was merged into another one already", [name]
            )
        if member.status == MemberStatus.ERASED.value:
            # Its history would become a living member's again (docs/privacy.md).
            raise DomainError("MEMBER_ERASED", "an erased member cannot be merged", [name])
    at = now or _now()
    try:
        async with unit_of_work(scope) as uow:
            # Before every other lock: see hold_off_merges.
            await _merge_lock(scope, uow.connection, alone=True)
            survivor, merged = await _lock_members(uow, survivor_id, merged_id)
            record = await scope.create(
                MemberMerge,
                using_db=uow.connection,
                survivor_id=survivor.id,
                merged_id=merged.id,
                idempotency_key=key,
                fingerprint=print_,
                automatic=automatic,
                actor=str(scope.actor)[:200],
                merged_at=at,
            )
            conflicts, previous = await _merge_profiles(uow, survivor, merged)
            moved = _Moved()
            await _move_rows(uow, moved, survivor.id, merged.id)
            await _rollup_days_changed(uow, moved.ids.get("orders") or [])
            # Both members' first orders and the survivor's join channel or
            # source may change: the growth report's join days.
            await mark_dirty(scope, uow.connection, [survivor.joined_at, merged.joined_at])
            await persons.relink_member(scope, merged.id, survivor.id)
            await _combine_ledgers(uow, moved, survivor.id, merged.id, record.id, at)
            await _finish(uow, survivor.id, merged.id, at)
            record.conflicts = [
                {"field": c.field, "kept": _jsonable(c.kept), "dropped": _jsonable(c.dropped)}
                for c in conflicts
            ]
            record.moved = moved.ids
            record.previous = previous
            await record.save(
                using_db=uow.connection, update_fields=["conflicts", "moved", "previous"]
            )
            counts = {
                name: len(ids) if isinstance(ids, list | dict) else ids
                for name, ids in moved.ids.items()
            }
            await audit.record(
                scope,
                "member.merge",
                "ok",
                {
                    "merge_id": record.id,
                    "survivor_id": survivor.id,
                    "merged_id": merged.id,
                    "automatic": automatic,
                    "conflicts": record.conflicts,
                    "moved": counts,
                },
            )
            uow.emit(
                "member.merged",
                member_id=survivor.id,
                merged_member_id=merged.id,
                merge_id=record.id,
                automatic=automatic,
                conflicts=[c.field for c in conflicts],
            )
            uow.follow_up(
                "members_merge_tier",
                scope.brand_id,
                survivor.id,
                record.id,
                key=f"merge-tier:{record.id}",
            )
    except IntegrityError:
        # The same key, committed by a concurrent call meanwhile.
        done = await scope.query(MemberMerge).filter(idempotency_key=key).first()
        if done is None:
            raise
        return await _replay(scope, done, print_)
    return MergeResult(record, survivor, conflicts)


async def _replay(scope: BrandScope, done: MemberMerge, print_: str) -> MergeResult:
    if done.fingerprint != print_:
        raise conflict()
    survivor = await scope.get(Member, done.survivor_id)
    assert survivor is not None
    conflicts = [Conflict(c["field"], c["kept"], c["dropped"]) for c in done.conflicts]
    return MergeResult(done, survivor, conflicts, replayed=True)


async def _lock_members(uow: UnitOfWork, survivor_id: int, merged_id: int) -> tuple[Member, Member]:
    """Both members' accounts, then both members' rows, each lower member id
    first; checked again under the lock (a concurrent merge may have made one
    a tombstone meanwhile). Accounts first, as every ledger write takes its
    account's lock before its entry's insert needs the member's key lock:
    the opposite order would deadlock with a write in flight. The member rows
    take ``FOR NO KEY UPDATE``, which inserts referencing them do not wait
    for."""
    scope, conn = uow.scope, uow.connection
    postgres = conn.capabilities.dialect == "postgres"
    if postgres:
        await _lock_accounts(uow, [survivor_id, merged_id])
    query = (
        scope.query(Member).using_db(conn).filter(id__in=[survivor_id, merged_id]).order_by("id")
    )
    if postgres:
        query = query.select_for_update(no_key=True)
    rows = {m.id: m for m in await query}
    for member_id, name in ((survivor_id, "survivorId"), (merged_id, "mergedId")):
        if rows[member_id].merged_into_id is not None:
            raise DomainError(
                "MEMBER_MERGED", "this member was merged into another one already", [name]
            )
    return rows[survivor_id], rows[merged_id]


async def _lock_accounts(uow: UnitOfWork, member_ids: list[int]) -> None:
    """Kind by kind in :data:`KINDS` order, points first as a purchase's
    rewards take them (points, then growth), lower member first."""
    for kind in KINDS:
        await (
            uow.scope.query(AssetAccount)
            .using_db(uow.connection)
            .filter(member_id__in=member_ids, kind=kind)
            .order_by("member_id")
            .select_for_update()
            .only("id")
        )


async def _merge_profiles(
    uow: UnitOfWork, survivor: Member, merged: Member
) -> tuple[list[Conflict], dict[str, Any]]:
    """Fill the survivor's empty fields from the merged member; report the
    fields both had differently. Returns the conflicts and the values it
    replaced (for undo)."""
    conflicts: list[Conflict] = []
    changes: dict[str, Any] = {}
    for name in (*PROFILE_FIELDS, *IDENTITY_COLUMNS):
        mine, theirs = getattr(survivor, name), getattr(merged, name)
        if _empty(theirs) or mine == theirs:
            continue
        if _empty(mine):
            column = _SEALED_COLUMNS.get(name, name)
            changes[column] = getattr(merged, column)
        elif name not in IDENTITY_COLUMNS:
            # Both identities stay the survivor's (as identity rows): no conflict.
            conflicts.append(Conflict(name, mine, theirs))
    attributes = dict(survivor.attributes or {})
    for name, theirs in (merged.attributes or {}).items():
        mine = attributes.get(name)
        if _empty(theirs) or mine == theirs:
            continue
        if _empty(mine):
            attributes[name] = theirs
        else:
            conflicts.append(Conflict(f"attributes.{name}", mine, theirs))
    previous: dict[str, Any] = {
        "survivor": {name: _jsonable(getattr(survivor, name)) for name in changes},
        "merged": {
            "status": merged.status,
            **{name: getattr(merged, name) for name in _UNIQUE_COLUMNS},
        },
    }
    if attributes != (survivor.attributes or {}):
        previous["survivor"]["attributes"] = survivor.attributes
        changes["attributes"] = attributes
    # The tombstone gives up its unique columns before the survivor takes them.
    merged.status = MemberStatus.MERGED.value
    merged.merged_into_id = survivor.id
    for name in _UNIQUE_COLUMNS:
        setattr(merged, name, None)
    await merged.save(
        using_db=uow.connection,
        update_fields=["status", "merged_into_id", *_UNIQUE_COLUMNS, "updated_at"],
    )
    if changes:
        survivor.update_from_dict(changes)
        await survivor.save(using_db=uow.connection, update_fields=[*changes, "updated_at"])
        if "card_number" in changes:
            # The survivor holds a card now: its own orders count as a member's.
            await mark_member_dirty(uow.scope, uow.connection, survivor.id)
    return conflicts, previous


async def _move_rows(uow: UnitOfWork, moved: _Moved, survivor_id: int, merged_id: int) -> None:
    scope, conn = uow.scope, uow.connection

    def of(model: Any, **where: Any) -> Any:
        return scope.query(model).using_db(conn).filter(**where)

    def unless(query: Any, **where: Any) -> Any:
        # An empty IN list is left out rather than sent.
        return query.exclude(**where) if all(where.values()) else query

    s, m = survivor_id, merged_id
    await moved.move("identities", of(MemberIdentity, member_id=m), "member_id", s)
    # Tag assignments the survivor has from the same source stay the
    # survivor's; the merged member's copies go (remembered for undo).
    have = await of(TagAssignment, member_id=s).values_list("tag_id", "source")
    if have:
        same = Q()
        for tag_id, source in have:
            same |= Q(tag_id=tag_id, source=source)
        doubles = of(TagAssignment, member_id=m).filter(same)
        dropped = await doubles.values("id", "tag_id", "source", "expires_at")
        if dropped:
            moved.ids["tags_dropped"] = [
                {**d, "expires_at": _jsonable(d["expires_at"])}
                for d in dropped  # type: ignore[list-item]
            ]
            await of(TagAssignment, id__in=[d["id"] for d in dropped]).delete()
    await moved.move("tags", of(TagAssignment, member_id=m), "member_id", s)
    await moved.move("orders", of(Order, member_id=m), "member_id", s)
    await moved.move("refunds", of(Refund, member_id=m), "member_id", s)
    await moved.move("events", of(BehaviourEvent, member_id=m), "member_id", s)
    await moved.move("coupons", of(Coupon, member_id=m), "member_id", s)
    await moved.move("redemptions", of(CouponRedemption, member_id=m), "member_id", s)
    await moved.move("holds", of(RewardHold, member_id=m), "member_id", s)
    await moved.move("slot_events", of(SlotEvent, member_id=m), "member_id", s)
    # A message the survivor has under the same idempotency key stays the
    # tombstone's: the key is unique per member.
    keys = Subquery(of(Message, member_id=s).values("idempotency_key"))
    await moved.move(
        "messages", of(Message, member_id=m).exclude(idempotency_key__in=keys), "member_id", s
    )
    # Campaigns the tombstone was a recipient of and the survivor was not
    # (one recipient per campaign and member); its message moved above.
    campaigns = Subquery(of(CampaignRecipient, member_id=s).values("campaign_id"))
    await moved.move(
        "campaign_recipients",
        of(CampaignRecipient, member_id=m).exclude(campaign_id__in=campaigns),
        "member_id",
        s,
    )
    # The survivor's own consent and do-not-contact per channel stand; the
    # merged member's fill the channels it has none for (a do-not-contact is
    # never lost: the survivor then has it too).
    said = await of(ChannelConsent, member_id=s).values_list("channel", "purpose")
    theirs = of(ChannelConsent, member_id=m)
    for channel, purpose in said:
        theirs = theirs.exclude(channel=channel, purpose=purpose)
    await moved.move("consents", theirs, "member_id", s)
    blocked = await of(DoNotContact, member_id=s).values_list("channel", flat=True)
    await moved.move(
        "do_not_contact",
        unless(of(DoNotContact, member_id=m), channel__in=list(blocked)),
        "member_id",
        s,
    )
    # The tombstone is in no segment and no cluster; the next clustering run
    # places the survivor by its combined history.
    await of(MemberCluster, member_id=m).delete()
    await _combine_allowances(uow, moved, s, m)
    days = await of(CheckIn, member_id=s).values_list("day", flat=True)
    await moved.move(
        "check_ins", unless(of(CheckIn, member_id=m), day__in=list(days)), "member_id", s
    )
    await moved.move(
        "referrals_made", of(Referral, referrer_id=m).exclude(referee_id=s), "referrer_id", s
    )
    if not await of(Referral, referee_id=s).exists():
        await moved.move(
            "referral_of", of(Referral, referee_id=m).exclude(referrer_id=s), "referee_id", s
        )
    sources = await of(TierHistory, member_id=s).values_list("source", flat=True)
    await moved.move(
        "tier_history",
        unless(of(TierHistory, member_id=m), source__in=list(sources)),
        "member_id",
        s,
    )


async def _rollup_days_changed(uow: UnitOfWork, order_ids: list[int]) -> None:
    """The sales rollup counts buyers by member: the days of orders that
    changed member are summed again (docs/reports.md, Daily rollups)."""
    scope, conn = uow.scope, uow.connection
    for part in _chunks(order_ids):
        times: list[Any] = (
            await scope.query(Order)
            .using_db(conn)
            .filter(id__in=part)
            .values_list("occurred_at", flat=True)
        )
        await mark_dirty(scope, conn, times)


async def _combine_allowances(
    uow: UnitOfWork, moved: _Moved, survivor_id: int, merged_id: int
) -> None:
    """Per-template issued counters: a template both members have adds the
    merged member's count to the survivor's (in SQL), the rest move."""
    scope, conn = uow.scope, uow.connection
    both = list(
        await scope.query(CouponAllowance)
        .using_db(conn)
        .filter(member_id=survivor_id)
        .values_list("template_id", flat=True)
    )
    if both:
        added = dict(
            await scope.query(CouponAllowance)
            .using_db(conn)
            .filter(member_id=merged_id, template_id__in=both)
            .values_list("template_id", "issued")
        )
        if added:
            moved.ids["allowances_added"] = {str(k): v for k, v in added.items()}
        await conn.execute_query(
            numbered(
                conn,
                "UPDATE coupon_allowance SET issued = issued + COALESCE((SELECT m.issued FROM "
                "coupon_allowance m WHERE m.brand_id = ? AND m.member_id = ? "
                "AND m.template_id = coupon_allowance.template_id), 0) "
                "WHERE brand_id = ? AND member_id = ?",
            ),
            [scope.brand_id, merged_id, scope.brand_id, survivor_id],
        )
        await (
            scope.query(CouponAllowance)
            .using_db(conn)
            .filter(member_id=merged_id, template_id__in=both)
            .delete()
        )
    query = scope.query(CouponAllowance).using_db(conn).filter(member_id=merged_id)
    await moved.move("allowances", query, "member_id", survivor_id)


async def _combine_ledgers(
    uow: UnitOfWork, moved: _Moved, survivor_id: int, merged_id: int, merge_id: int, at: datetime
) -> None:
    """Per asset kind the merged member has: the survivor's account takes the
    merged account's balance, pending and reserved amounts in one statement
    (both rows locked), its entries and lots, then a ``merge`` entry records
    the combined balance; the emptied account goes. Where one account was in
    debt, the other's lots pay it, soonest-expiring first, as new points do."""
    scope, conn = uow.scope, uow.connection
    theirs = {
        a.kind: a
        for a in await scope.query(AssetAccount).using_db(conn).filter(member_id=merged_id)
    }
    for kind in KINDS:
        account = theirs.get(kind)
        if account is None:
            continue
        await accounts.open_account(conn, scope, survivor_id, kind, at)
        rows = await conn.execute_query_dict(
            numbered(
                conn,
                "UPDATE asset_account SET balance = asset_account.balance + m.mb, "
                "pending = asset_account.pending + m.mp, "
                "reserved = asset_account.reserved + m.mr, updated_at = ? "
                "FROM (SELECT balance AS mb, pending AS mp, reserved AS mr FROM asset_account "
                "WHERE brand_id = ? AND id = ?) AS m "
                "WHERE asset_account.brand_id = ? AND asset_account.member_id = ? "
                "AND asset_account.kind = ? "
                "RETURNING id, balance",
            ),
            [at, scope.brand_id, account.id, scope.brand_id, survivor_id, kind],
        )
        # The merged account's row is locked: what it added is what it held.
        target, balance = int(rows[0]["id"]), int(rows[0]["balance"])
        before = balance - account.balance
        entries = scope.query(LedgerEntry).using_db(conn).filter(account_id=account.id)
        await moved.move(f"ledger_{kind}", entries, "account_id", target, member_id=survivor_id)
        lots_query = scope.query(PointsLot).using_db(conn).filter(account_id=account.id)
        await moved.move(f"lots_{kind}", lots_query, "account_id", target)
        if kind == "points":
            # Available lots held max(balance, 0) of each account; together
            # they must hold max(combined, 0).
            excess = max(before, 0) + max(account.balance, 0) - max(balance, 0)
            if excess > 0:
                await lots.consume(conn, scope, target, excess)
                moved.ids["debt_paid"] = excess
        await scope.query(AssetAccount).using_db(conn).filter(id=account.id).delete()
        marker = f"merge:{merge_id}:{kind}"
        await scope.create(
            LedgerEntry,
            using_db=conn,
            account_id=target,
            member_id=survivor_id,
            kind=kind,
            entry_type="merge",
            amount=0,
            balance_after=balance,
            reason=f"merged member {merged_id}: {account.balance:+d}",
            source_type="merge",
            source_ref=str(merge_id),
            idempotency_key=marker,
            fingerprint=fingerprint(marker),
            actor=str(scope.actor)[:200],
            occurred_at=at,
        )


async def _finish(uow: UnitOfWork, survivor_id: int, merged_id: int, at: datetime) -> None:
    """What is derived: the survivor's statistics from its orders, the
    tombstone's segment memberships, lifecycle and tier state dropped (the
    survivor's are re-evaluated after the commit), open duplicate candidates
    of the pair resolved."""
    scope, conn = uow.scope, uow.connection
    await rebuild_member_stats(scope, conn, [survivor_id, merged_id])
    await scope.query(SegmentMembership).using_db(conn).filter(member_id=merged_id).delete()
    await scope.query(MemberLifecycle).using_db(conn).filter(member_id=merged_id).delete()
    await _keep_better_tier(uow, survivor_id, merged_id)
    await (
        scope.query(DuplicateCandidate)
        .using_db(conn)
        .filter(
            Q(member_id=survivor_id, other_id=merged_id)
            | Q(member_id=merged_id, other_id=survivor_id),
            status="open",
        )
        .update(status="merged", resolved_at=at)
    )


async def _keep_better_tier(uow: UnitOfWork, survivor_id: int, merged_id: int) -> None:
    """The survivor keeps the better of the two tiers until the active policy
    re-evaluates it (the ``members_merge_tier`` follow-up)."""
    scope, conn = uow.scope, uow.connection
    states = {
        s.member_id: s
        for s in await scope.query(MemberTierState)
        .using_db(conn)
        .filter(member_id__in=[survivor_id, merged_id])
        .select_related("tier")
    }
    theirs = states.get(merged_id)
    if theirs is not None and theirs.tier is not None:
        mine = states.get(survivor_id)
        if mine is None or mine.tier is None or mine.tier.rank < theirs.tier.rank:
            await scope.query(MemberTierState).using_db(conn).filter(member_id=survivor_id).delete()
            await (
                scope.query(MemberTierState)
                .using_db(conn)
                .filter(member_id=merged_id)
                .update(member_id=survivor_id)
            )
            return
    await scope.query(MemberTierState).using_db(conn).filter(member_id=merged_id).delete()


async def merge_tier(ctx: dict[str, Any], brand_id: int, member_id: int, merge_id: int) -> bool:
    """The ``members_merge_tier`` job: the active tier policy evaluates the
    survivor once, after the merge committed (its reads see the merged
    history). True when the tier changed."""
    from tessera.rewards.pipeline import reevaluate_tier
    from tessera.tenancy.models import Brand

    brand = await Brand.get_or_none(id=brand_id)
    if brand is None:
        return False
    scope = BrandScope(brand)
    member = await scope.get(Member, member_id)
    if member is None or member.merged_into_id is not None:
        return False
    async with unit_of_work(scope) as uow:
        change = await reevaluate_tier(scope, uow, member, source=f"merge:{merge_id}", now=_now())
    return change is not None


# What undo moves back: recorded name -> (model, column).
_MOVED_BACK: dict[str, tuple[Any, str]] = {
    "identities": (MemberIdentity, "member_id"),
    "tags": (TagAssignment, "member_id"),
    "orders": (Order, "member_id"),
    "refunds": (Refund, "member_id"),
    "events": (BehaviourEvent, "member_id"),
    "coupons": (Coupon, "member_id"),
    "redemptions": (CouponRedemption, "member_id"),
    "holds": (RewardHold, "member_id"),
    "slot_events": (SlotEvent, "member_id"),
    "messages": (Message, "member_id"),
    "campaign_recipients": (CampaignRecipient, "member_id"),
    "consents": (ChannelConsent, "member_id"),
    "do_not_contact": (DoNotContact, "member_id"),
    "allowances": (CouponAllowance, "member_id"),
    "check_ins": (CheckIn, "member_id"),
    "referrals_made": (Referral, "referrer_id"),
    "referral_of": (Referral, "referee_id"),
    "tier_history": (TierHistory, "member_id"),
}


# Ids per statement when undo moves rows back by id: well under PostgreSQL's
# 32,767 bound parameters.
_CHUNK = 10_000


def _chunks(ids: list[int]) -> list[list[int]]:
    return [ids[i : i + _CHUNK] for i in range(0, len(ids), _CHUNK)]


@dataclass(frozen=True)
class Undone:
    merge: MemberMerge
    survivor: Member
    restored: Member


def undo_deadline(merge: MemberMerge) -> datetime:
    return merge.merged_at + UNDO_WINDOW


async def undo_blocker(
    scope: BrandScope, merge: MemberMerge, now: datetime | None = None
) -> str | None:
    """Why ``merge`` cannot be undone now (a sentence), or None when it can.

    Undo puts back exactly the rows the merge moved, so it is refused once
    something happened that it could not put back: the window passed, the
    survivor was merged on, value moved on the survivor's accounts since (a
    spend could have used the merged member's points), a moved coupon or
    checkout hold changed, or the merge paid a debt with points (which lots
    paid it is not recorded)."""
    now = now or _now()
    if merge.undone_at is not None:
        return "this merge was undone already"
    if now > undo_deadline(merge):
        return f"merges can be undone for {UNDO_WINDOW.days} days only"
    survivor = await scope.get(Member, merge.survivor_id)
    if survivor is None or survivor.merged_into_id is not None:
        return "the survivor was merged into another member since"
    if survivor.status == MemberStatus.ERASED.value:
        return "the member's personal data was erased since"
    if merge.moved.get("debt_paid"):
        return "the merge paid one member's points debt with the other's points"
    markers = (
        await scope.query(LedgerEntry)
        .filter(source_type="merge", source_ref=str(merge.id), entry_type="merge")
        .values_list("account_id", "id")
    )
    for account_id, marker_id in markers:
        if await scope.query(LedgerEntry).filter(account_id=account_id, id__gt=marker_id).exists():
            return "points, stored value or growth moved on the survivor since the merge"
    coupons = merge.moved.get("coupons") or []
    if (
        coupons
        and await scope.query(Coupon)
        .filter(id__in=coupons, updated_at__gt=merge.merged_at)
        .exists()
    ):
        return "a coupon of the merged member was used or changed since the merge"
    holds = merge.moved.get("holds") or []
    if (
        holds
        and await scope.query(RewardHold)
        .filter(id__in=holds, settled_at__gt=merge.merged_at)
        .exists()
    ):
        return "a checkout hold of the merged member was settled since the merge"
    return None


async def undo_merge(scope: BrandScope, merge_id: int, *, now: datetime | None = None) -> Undone:
    """Split a merge again within :data:`UNDO_WINDOW` (see :func:`undo_blocker`
    for when it is refused, ``UNDO_BLOCKED``): every row the merge moved goes
    back, the accounts split again (each a ``merge`` entry recording its
    balance), both profiles are restored, statistics rebuilt, and both tiers
    re-evaluated by the policy. Undoing an undone merge answers it again."""
    at = now or _now()
    merge = await scope.get(MemberMerge, merge_id)
    if merge is None:
        raise DomainError("NOT_FOUND", "no such merge", ["mergeId"])
    if merge.undone_at is not None:
        return await _undone(scope, merge)
    blocker = await undo_blocker(scope, merge, at)
    if blocker is not None:
        raise DomainError("UNDO_BLOCKED", blocker, ["mergeId"])
    async with unit_of_work(scope) as uow:
        conn = uow.connection
        survivor, merged = await _lock_for_undo(uow, merge)
        again = await scope.query(MemberMerge).using_db(conn).get(id=merge.id)
        if again.undone_at is not None:
            raise DomainError("UNDO_BLOCKED", "this merge was undone already", ["mergeId"])
        s, m = survivor.id, merged.id
        previous = merge.previous or {}
        # The tombstone comes back first: its unique columns and accounts.
        merged.status = previous.get("merged", {}).get("status", MemberStatus.ACTIVE.value)
        merged.merged_into_id = None
        restore = {k: v for k, v in (previous.get("survivor") or {}).items()}
        for name in _UNIQUE_COLUMNS:
            value = previous.get("merged", {}).get(name)
            if value is not None and getattr(survivor, name) == value:
                # The survivor had taken it (it was empty): give it back.
                restore[name] = None
        if restore:
            survivor.update_from_dict(
                {
                    k: date.fromisoformat(v) if k == "birthday" and v else v
                    for k, v in restore.items()
                }
            )
            await survivor.save(using_db=conn, update_fields=[*restore, "updated_at"])
            if "card_number" in restore:
                await mark_member_dirty(scope, conn, survivor.id)
        for name in _UNIQUE_COLUMNS:
            setattr(merged, name, previous.get("merged", {}).get(name))
        await merged.save(
            using_db=conn,
            update_fields=["status", "merged_into_id", *_UNIQUE_COLUMNS, "updated_at"],
        )
        for name, (model, column) in _MOVED_BACK.items():
            ids = merge.moved.get(name)
            if ids:
                for part in _chunks(ids):
                    await (
                        scope.query(model).using_db(conn).filter(id__in=part).update(**{column: m})
                    )
        await _rollup_days_changed(uow, merge.moved.get("orders") or [])
        await mark_dirty(scope, conn, [survivor.joined_at, merged.joined_at])
        back = merge.moved.get("identities") or []
        if back:
            rows = await scope.query(MemberIdentity).using_db(conn).filter(id__in=back)
            await persons.move_identities(scope, s, m, [(r.kind, r.value) for r in rows])
        for template_id, issued in (merge.moved.get("allowances_added") or {}).items():
            await (
                scope.query(CouponAllowance)
                .using_db(conn)
                .filter(member_id=s, template_id=int(template_id), issued__gte=issued)
                .update(issued=F("issued") - issued)
            )
            await scope.create(
                CouponAllowance,
                using_db=conn,
                template_id=int(template_id),
                member_id=m,
                issued=issued,
            )
        dropped = merge.moved.get("tags_dropped") or []
        if dropped:
            await scope.insert_many(
                TagAssignment,
                [
                    scope.build(
                        TagAssignment,
                        tag_id=d["tag_id"],
                        member_id=m,
                        source=d["source"],
                        expires_at=datetime.fromisoformat(d["expires_at"])
                        if d["expires_at"]
                        else None,
                    )
                    for d in dropped
                ],
                conn,
            )
        await _split_ledgers(uow, merge, s, m, at)
        await rebuild_member_stats(scope, conn, [s, m])
        merge.undone_at = at
        await merge.save(using_db=conn, update_fields=["undone_at"])
        await audit.record(
            scope,
            "member.merge_undo",
            "ok",
            {"merge_id": merge.id, "survivor_id": s, "merged_id": m},
        )
        for member_id in (s, m):
            uow.emit("member.updated", member_id=member_id, changed=["mergeUndone"])
            uow.follow_up(
                "members_merge_tier",
                scope.brand_id,
                member_id,
                merge.id,
                key=f"unmerge-tier:{merge.id}:{member_id}",
            )
    return Undone(merge, survivor, merged)


async def _undone(scope: BrandScope, merge: MemberMerge) -> Undone:
    survivor = await scope.get(Member, merge.survivor_id)
    restored = await scope.get(Member, merge.merged_id)
    assert survivor is not None and restored is not None
    return Undone(merge, survivor, restored)


async def _lock_for_undo(uow: UnitOfWork, merge: MemberMerge) -> tuple[Member, Member]:
    """The locks of :func:`_lock_members`, in the same order."""
    scope, conn = uow.scope, uow.connection
    postgres = conn.capabilities.dialect == "postgres"
    ids = [merge.survivor_id, merge.merged_id]
    if postgres:
        await _lock_accounts(uow, ids)
    query = scope.query(Member).using_db(conn).filter(id__in=ids).order_by("id")
    if postgres:
        query = query.select_for_update(no_key=True)
    rows = {m.id: m for m in await query}
    return rows[merge.survivor_id], rows[merge.merged_id]


async def _split_ledgers(
    uow: UnitOfWork, merge: MemberMerge, survivor_id: int, merged_id: int, at: datetime
) -> None:
    """Each kind's entries and lots go back to a reopened account of the
    merged member; both accounts' balances, pending and reserved amounts are
    set to what their entries (and open holds) say, in SQL, and a ``merge``
    entry on each records the balance."""
    scope, conn = uow.scope, uow.connection
    for kind in KINDS:
        entry_ids = merge.moved.get(f"ledger_{kind}")
        if not entry_ids:
            continue
        await accounts.open_account(conn, scope, merged_id, kind, at)
        account = await scope.query(AssetAccount).using_db(conn).get(member_id=merged_id, kind=kind)
        for part in _chunks(entry_ids):
            await (
                scope.query(LedgerEntry)
                .using_db(conn)
                .filter(id__in=part)
                .update(account_id=account.id, member_id=merged_id)
            )
        for part in _chunks(merge.moved.get(f"lots_{kind}") or []):
            await (
                scope.query(PointsLot)
                .using_db(conn)
                .filter(id__in=part)
                .update(account_id=account.id)
            )
        for member_id in (merged_id, survivor_id):
            balance = await _recount(conn, scope, member_id, kind, at)
            marker = f"unmerge:{merge.id}:{kind}:{member_id}"
            target = (
                await scope.query(AssetAccount).using_db(conn).get(member_id=member_id, kind=kind)
            )
            await scope.create(
                LedgerEntry,
                using_db=conn,
                account_id=target.id,
                member_id=member_id,
                kind=kind,
                entry_type="merge",
                amount=0,
                balance_after=balance,
                reason=f"merge {merge.id} undone",
                source_type="merge",
                source_ref=str(merge.id),
                idempotency_key=marker,
                fingerprint=fingerprint(marker),
                actor=str(scope.actor)[:200],
                occurred_at=at,
            )


async def _recount(conn: Any, scope: BrandScope, member_id: int, kind: str, at: datetime) -> int:
    """Set the (locked) account's balance, pending and reserved amounts to the
    sums of its entries and open holds, as ``tessera ledger verify`` counts
    them, in one statement; returns the balance."""
    rows = await conn.execute_query_dict(
        numbered(
            conn,
            "UPDATE asset_account SET "
            "balance = (SELECT COALESCE(SUM(amount), 0) FROM ledger_entry e "
            "WHERE e.brand_id = asset_account.brand_id AND e.account_id = asset_account.id "
            "AND e.entry_type NOT IN ('pending', 'cancel')), "
            "pending = (SELECT COALESCE(SUM(CASE WHEN e.entry_type = 'release' THEN -amount "
            "ELSE amount END), 0) FROM ledger_entry e "
            "WHERE e.brand_id = asset_account.brand_id AND e.account_id = asset_account.id "
            "AND e.entry_type IN ('pending', 'cancel', 'release')), "
            "reserved = CASE WHEN kind = 'points' THEN (SELECT COALESCE(SUM(h.points), 0) "
            "FROM reward_hold h WHERE h.brand_id = asset_account.brand_id "
            "AND h.member_id = asset_account.member_id AND h.status = 'held') ELSE 0 END, "
            "updated_at = ? "
            "WHERE brand_id = ? AND member_id = ? AND kind = ? RETURNING balance",
        ),
        [at, scope.brand_id, member_id, kind],
    )
    return int(rows[0]["balance"])
