"""Activity facts: joining, checking in, birthdays, a completed profile, a
behaviour event (a task), a referral. Each runs through the same pipeline as
an order, in one unit of work, idempotently: a fact's source reference is
unique (``joined:<member>``, ``check_in:<member>:<day>``...), and every
award's idempotency key derives from it."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import UTC, datetime, timedelta

from tortoise.exceptions import IntegrityError

from tessera.assets.policy import local_date
from tessera.errors import DomainError
from tessera.members.models import Member
from tessera.members.profile import MemberStatus
from tessera.rewards.models import CheckIn, Referral
from tessera.rewards.pipeline import Applied, apply_rewards, compute_rewards, programme
from tessera.scope import BrandScope
from tessera.tiers.service import lock_state
from tessera.uow import UnitOfWork, unit_of_work

ACTIVITY = "activity"
KINDS = ("joined", "birthday", "profile_completed", "event", "referral")


async def _member(scope: BrandScope, member_id: int | None, field: str = "memberId") -> Member:
    member = await scope.get(Member, member_id) if member_id is not None else None
    if member is None:
        raise DomainError("NOT_FOUND", "no such member", [field])
    if member.status != MemberStatus.ACTIVE.value:
        raise DomainError("MEMBER_INACTIVE", f"a {member.status} member earns nothing", [field])
    return member


async def reward_activity(
    scope: BrandScope,
    uow: UnitOfWork,
    member: Member,
    kind: str,
    ref: str,
    *,
    now: datetime,
    streak: int = 0,
    event_type: str | None = None,
    referrer_id: int | None = None,
) -> Applied | None:
    """Run one activity fact through the pipeline inside ``uow``; None when
    the brand has no loyalty components on."""
    prog = await programme(scope)
    if prog.empty:
        return None
    state = await lock_state(scope, uow, member.id, now)
    plan = await compute_rewards(
        scope,
        member,
        kind,
        now=now,
        source_type=ACTIVITY,
        source_ref=ref,
        streak=streak,
        event_type=event_type,
        referrer_id=referrer_id,
        state=state,
        loaded=prog,
    )
    return await apply_rewards(scope, uow, plan, state=state)


async def on_member_joined(
    scope: BrandScope, uow: UnitOfWork, member: Member, at: datetime | None = None
) -> Applied | None:
    """The registration bonus (and a first tier): for the members service to
    call in the unit of work where the member joins."""
    return await reward_activity(
        scope, uow, member, "joined", f"joined:{member.id}", now=at or member.joined_at
    )


async def award_activity(
    scope: BrandScope,
    member_id: int,
    kind: str,
    *,
    ref: str,
    now: datetime | None = None,
    event_type: str | None = None,
) -> Applied | None:
    """Record an activity fact of ``kind`` (see :data:`KINDS`) for a member in a
    unit of work of its own. ``ref`` makes it unique: the same ``kind`` and
    ``ref`` again earns nothing more."""
    if kind not in KINDS or kind == "referral":
        raise DomainError("INVALID", f"kind is one of {', '.join(KINDS[:-1])}", ["kind"])
    now = now or datetime.now(UTC)
    member = await _member(scope, member_id)
    async with unit_of_work(scope) as uow:
        return await reward_activity(
            scope,
            uow,
            member,
            kind,
            f"{kind}:{member.id}:{ref}"[:128],
            now=now,
            event_type=event_type,
        )


@dataclass(frozen=True)
class CheckInResult:
    check_in: CheckIn
    replayed: bool


async def check_in(
    scope: BrandScope, member_id: int | None, *, now: datetime | None = None
) -> CheckInResult:
    """Check the member in for today (the brand's timezone): once per day; a
    second call the same day returns the first check-in. The streak counts
    consecutive days."""
    now = now or datetime.now(UTC)
    member = await _member(scope, member_id)
    day = local_date(now, scope.brand.timezone)
    existing = await scope.query(CheckIn).get_or_none(member_id=member.id, day=day)
    if existing is not None:
        return CheckInResult(existing, True)
    try:
        async with unit_of_work(scope) as uow:
            before = await (
                scope.query(CheckIn)
                .using_db(uow.connection)
                .get_or_none(member_id=member.id, day=day - timedelta(days=1))
            )
            streak = before.streak + 1 if before is not None else 1
            row = await scope.create(
                CheckIn,
                using_db=uow.connection,
                member_id=member.id,
                day=day,
                streak=streak,
                at=now,
            )
            applied = await reward_activity(
                scope,
                uow,
                member,
                "check_in",
                f"check_in:{member.id}:{day.isoformat()}",
                now=now,
                streak=streak,
            )
            if applied is not None and applied.plan.total_points:
                row.points = applied.plan.total_points
                await row.save(using_db=uow.connection, update_fields=["points"])
            uow.emit("member.checked_in", member_id=member.id, day=day.isoformat(), streak=streak)
    except IntegrityError:
        existing = await scope.query(CheckIn).get_or_none(member_id=member.id, day=day)
        if existing is None:
            raise
        return CheckInResult(existing, True)
    return CheckInResult(row, False)


async def record_referral(
    scope: BrandScope,
    *,
    referrer_id: int | None,
    referee_id: int | None,
    now: datetime | None = None,
) -> tuple[Referral, bool]:
    """Record that ``referrer_id`` brought ``referee_id`` in and award the
    referral rules' points (to either member). A referee is referred once:
    again with the same referrer replays, with another is a conflict."""
    now = now or datetime.now(UTC)
    referrer = await _member(scope, referrer_id, "referrerId")
    referee = await _member(scope, referee_id, "refereeId")
    if referrer.id == referee.id:
        raise DomainError("INVALID", "a member cannot refer themselves", ["refereeId"])
    existing = await scope.query(Referral).get_or_none(referee_id=referee.id)
    if existing is None:
        try:
            async with unit_of_work(scope) as uow:
                async with unit_of_work(scope, uow) as inner:
                    row = await scope.create(
                        Referral,
                        using_db=inner.connection,
                        referrer_id=referrer.id,
                        referee_id=referee.id,
                        at=now,
                    )
                await reward_activity(
                    scope,
                    uow,
                    referee,
                    "referral",
                    f"referral:{referee.id}",
                    now=now,
                    referrer_id=referrer.id,
                )
            return row, False
        except IntegrityError:
            existing = await scope.query(Referral).get_or_none(referee_id=referee.id)
            if existing is None:
                raise
    if existing.referrer_id != referrer.id:
        raise DomainError(
            "ALREADY_REFERRED", "this member was referred by someone else", ["refereeId"]
        )
    return existing, True
