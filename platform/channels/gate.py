"""The one gate every send passes: a trigger, a campaign, the API or an
operator all call :func:`submit`, which decides in one transaction, under a
lock on the member, and writes the message row with the decision.

Order of the checks (the first that says no decides, and is recorded as the
message's ``reason``):

1. idempotency: the member already has a message with this key -> that one;
2. an address on the channel (``no_address``);
3. do-not-contact on the channel (``do_not_contact:<reason>``);
4. consent for the channel and purpose (``no_consent``): marketing needs a
   yes, transactional only the absence of a no;
5. frequency caps, marketing only (``frequency_cap:<channel>:<limit>/<hours>h``),
   counted in SQL over the message log;
6. quiet hours, marketing only: deferred to the end of the quiet hours (a
   ``deferred`` message with ``send_after``), never dropped.

Transactional messages (a receipt, a password code) pass 5 and 6: they are
about the member's own account and expected at once.
"""

from __future__ import annotations

import uuid
from dataclasses import dataclass, field
from datetime import UTC, datetime, time, timedelta
from typing import Any
from zoneinfo import ZoneInfo

from tessera.channels.models import (
    Channel,
    ChannelConsent,
    ChannelSettings,
    DoNotContact,
    Message,
    MessageStatus,
    MessageTemplate,
    Purpose,
)
from tessera.errors import DomainError
from tessera.members.models import Member
from tessera.outbox.store import FollowUp
from tessera.scope import BrandScope
from tessera.uow import UnitOfWork, unit_of_work

# What a frequency cap counts: messages that went, or will go.
COUNTED = (
    MessageStatus.QUEUED,
    MessageStatus.DEFERRED,
    MessageStatus.SENT,
    MessageStatus.DELIVERED,
)

# One job, two lanes: transactional messages have their own, so a bulk send
# queued before them never delays them (docs/channels.md, "Lanes").
SEND_JOB = {Purpose.MARKETING: "channels_send", Purpose.TRANSACTIONAL: "channels_send_priority"}


@dataclass(frozen=True)
class SendRequest:
    member_id: int
    template_id: int
    purpose: Purpose
    source: str
    idempotency_key: str | None = None
    variables: dict[str, Any] = field(default_factory=dict)
    not_before: datetime | None = None


def address(member: Member, channel: Channel) -> str | None:
    """Where ``member`` is reached on ``channel`` (None: nowhere)."""
    if channel is Channel.EMAIL:
        return member.email or None
    if channel is Channel.SMS:
        return member.phone or None
    # WeChat and push senders address the member by an identity the sender
    # resolves (an openid, a device token): the member id stands in for it.
    return str(member.id)


async def contact_rules(scope: BrandScope, connection: Any = None) -> ChannelSettings | None:
    return await scope.query(ChannelSettings).using_db(connection).first()


def quiet_until(rules: ChannelSettings | None, timezone: str, now: datetime) -> datetime | None:
    """The end of the quiet hours ``now`` falls in (UTC), or None when it
    falls in none. Quiet hours may span midnight (21:00-08:00)."""
    if rules is None or rules.quiet_start is None or rules.quiet_end is None:
        return None
    start, end = _as_time(rules.quiet_start), _as_time(rules.quiet_end)
    if start == end:
        return None
    zone = ZoneInfo(timezone)
    local = now.astimezone(zone)
    clock = local.time().replace(tzinfo=None)
    if start < end:
        inside = start <= clock < end
        end_day = local.date()
    else:
        inside = clock >= start or clock < end
        end_day = local.date() + timedelta(days=1) if clock >= start else local.date()
    if not inside:
        return None
    return datetime.combine(end_day, end, tzinfo=zone).astimezone(UTC)


def _as_time(value: Any) -> time:
    if isinstance(value, time):
        return value.replace(tzinfo=None)
    if isinstance(value, timedelta):  # some drivers return a TIME as an interval
        return (datetime.min + value).time()
    return time.fromisoformat(str(value))


async def submit(uow: UnitOfWork, request: SendRequest, now: datetime | None = None) -> Message:
    """Decide about one message and record it, in ``uow``'s transaction; a
    message that may go is queued for delivery through the outbox."""
    scope, conn = uow.scope, uow.connection
    now = now or datetime.now(UTC)
    # The lock per member: two sends to one member decide one after the other,
    # so both cannot slip under a cap (PostgreSQL; SQLite has one writer).
    member = (
        await scope.query(Member)
        .using_db(conn)
        .filter(id=request.member_id)
        .select_for_update()
        .first()
    )
    if member is None:
        raise DomainError("NOT_FOUND", "no such member", ["memberId"])
    key = request.idempotency_key or uuid.uuid4().hex
    existing = (
        await scope.query(Message)
        .using_db(conn)
        .filter(member_id=member.id, idempotency_key=key)
        .first()
    )
    if existing is not None:
        return existing
    template = await scope.query(MessageTemplate).using_db(conn).get_or_none(id=request.template_id)
    if template is None:
        raise DomainError("NOT_FOUND", "no such message template", ["templateId"])
    channel = template.channel
    send_after = max(now, request.not_before or now)
    status, reason = await _decide(scope, conn, member, channel, request.purpose, send_after)
    if status is MessageStatus.QUEUED and request.purpose is Purpose.MARKETING:
        later = quiet_until(await contact_rules(scope, conn), scope.brand.timezone, send_after)
        if later is not None:
            status, reason, send_after = MessageStatus.DEFERRED, "quiet_hours", later
    message = await scope.create(
        Message,
        using_db=conn,
        member_id=member.id,
        channel=channel,
        purpose=request.purpose,
        template_id=template.id,
        source=request.source[:64],
        variables=request.variables,
        idempotency_key=key,
        status=status,
        reason=reason,
        send_after=send_after,
    )
    if status is not MessageStatus.HELD:
        schedule(uow, message, delay_s=max(0.0, (send_after - now).total_seconds()))
    return message


def schedule(uow: UnitOfWork, message: Message, delay_s: float = 0.0) -> None:
    uow.follow_ups.append(
        FollowUp(SEND_JOB[message.purpose], (uow.scope.brand_id, message.id), delay_s=delay_s)
    )


async def _decide(
    scope: BrandScope, conn: Any, member: Member, channel: Channel, purpose: Purpose, at: datetime
) -> tuple[MessageStatus, str]:
    if address(member, channel) is None:
        return MessageStatus.HELD, "no_address"
    blocked = (
        await scope.query(DoNotContact)
        .using_db(conn)
        .filter(member_id=member.id, channel=channel)
        .first()
    )
    if blocked is not None:
        return MessageStatus.HELD, f"do_not_contact:{blocked.reason.value}"
    consent = (
        await scope.query(ChannelConsent)
        .using_db(conn)
        .filter(member_id=member.id, channel=channel, purpose=purpose)
        .first()
    )
    allowed = consent.granted if consent is not None else purpose is Purpose.TRANSACTIONAL
    if not allowed:
        return MessageStatus.HELD, "no_consent"
    if purpose is Purpose.MARKETING:
        rules = await contact_rules(scope, conn)
        for cap in rules.caps if rules else []:
            if await _over_cap(scope, conn, member.id, channel, cap, at):
                return (
                    MessageStatus.HELD,
                    f"frequency_cap:{cap['channel']}:{cap['limit']}/{cap['hours']}h",
                )
    return MessageStatus.QUEUED, ""


async def _over_cap(
    scope: BrandScope,
    conn: Any,
    member_id: int,
    channel: Channel,
    cap: dict[str, Any],
    at: datetime,
) -> bool:
    if cap["channel"] not in ("*", channel.value):
        return False
    # Every counted message planned after (at - window) may share a window with
    # this one, deferred ones planned for later included: counting them all
    # keeps every window of that length within the limit.
    query = (
        scope.query(Message)
        .using_db(conn)
        .filter(
            member_id=member_id,
            purpose=Purpose.MARKETING,
            status__in=COUNTED,
            send_after__gt=at - timedelta(hours=cap["hours"]),
        )
    )
    if cap["channel"] != "*":
        query = query.filter(channel=channel)
    return await query.count() >= int(cap["limit"])


async def send(scope: BrandScope, request: SendRequest) -> Message:
    """:func:`submit` in a unit of work of its own."""
    async with unit_of_work(scope) as uow:
        return await submit(uow, request)
