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
from collections.abc import Callable
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
from tessera.db import sqlite_time
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


# The reasons a decision records (shared by :func:`_decide` and
# :func:`decide_batch`, which must agree to the letter).
NO_ADDRESS = "no_address"
NO_CONSENT = "no_consent"
QUIET_HOURS = "quiet_hours"

# Where a member's address on a channel is kept (sealed); channels absent here
# address the member by an identity the sender resolves (never missing).
ADDRESS_COLUMN = {Channel.EMAIL: "email_sealed", Channel.SMS: "phone_sealed"}


def do_not_contact_reason(reason: str) -> str:
    return f"do_not_contact:{reason}"


def cap_reason(cap: dict[str, Any]) -> str:
    return f"frequency_cap:{cap['channel']}:{cap['limit']}/{cap['hours']}h"


def caps_for(rules: ChannelSettings | None, channel: Channel) -> list[dict[str, Any]]:
    """The caps that count a message on ``channel``, in the order they are checked."""
    return [cap for cap in (rules.caps if rules else []) if cap["channel"] in ("*", channel.value)]


def consent_default(purpose: Purpose) -> bool:
    """Without a recorded answer: transactional may go, marketing may not."""
    return purpose is Purpose.TRANSACTIONAL


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
            status, reason, send_after = MessageStatus.DEFERRED, QUIET_HOURS, later
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
        return MessageStatus.HELD, NO_ADDRESS
    blocked = (
        await scope.query(DoNotContact)
        .using_db(conn)
        .filter(member_id=member.id, channel=channel)
        .first()
    )
    if blocked is not None:
        return MessageStatus.HELD, do_not_contact_reason(blocked.reason.value)
    consent = (
        await scope.query(ChannelConsent)
        .using_db(conn)
        .filter(member_id=member.id, channel=channel, purpose=purpose)
        .first()
    )
    allowed = consent.granted if consent is not None else consent_default(purpose)
    if not allowed:
        return MessageStatus.HELD, NO_CONSENT
    if purpose is Purpose.MARKETING:
        rules = await contact_rules(scope, conn)
        for cap in caps_for(rules, channel):
            if await _over_cap(scope, conn, member.id, channel, cap, at):
                return MessageStatus.HELD, cap_reason(cap)
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


class SqlParams:
    """Bind parameters of one hand-written statement, in the order they appear
    in its text: ``$n::type`` on PostgreSQL (typed, so a parameter in a SELECT
    list is not taken for text), ``?`` on SQLite (times as Tortoise stores them)."""

    def __init__(self, conn: Any) -> None:
        self.postgres = conn.capabilities.dialect == "postgres"
        self.values: list[Any] = []

    def __call__(self, value: Any, pg_type: str = "text") -> str:
        if isinstance(value, datetime):
            pg_type = "timestamptz"
            if not self.postgres:
                value = sqlite_time(value)
        self.values.append(value)
        return f"${len(self.values)}::{pg_type}" if self.postgres else "?"

    def json(self, text_sql: str) -> str:
        """A JSON column's value from an SQL text expression."""
        return f"({text_sql})::jsonb" if self.postgres else text_sql


@dataclass(frozen=True)
class BatchRequest:
    """One message each to a set of members, decided together: the members
    are ``members_sql(params)``, an SQL query of member ids (their text
    adds its parameters through ``params`` as it is built)."""

    members_sql: Callable[[SqlParams], str]
    template_id: int
    channel: Channel
    purpose: Purpose
    source: str
    idempotency_key: str


async def decide_batch(uow: UnitOfWork, request: BatchRequest, now: datetime) -> datetime | None:
    """:func:`submit` for many members at once, in set-based SQL: the same
    checks in the same order with the same reasons (:func:`_decide` is the
    one-member reading of this statement; ``tests/campaigns/test_batch_gate.py``
    holds the two to the same answers). Each member's message is written
    (a member who already has a message with the key keeps it), and the
    messages that may go are queued for delivery on the bulk lane through the
    outbox, all in ``uow``'s transaction. Members' rows are locked first, as
    :func:`submit` locks its one. Returns the end of the quiet hours the
    batch was deferred to, or None when it may go now."""
    scope, conn = uow.scope, uow.connection
    brand_id = scope.brand_id
    channel, purpose = request.channel, request.purpose
    rules = await contact_rules(scope, conn)
    later = quiet_until(rules, scope.brand.timezone, now) if purpose is Purpose.MARKETING else None
    go_status, go_reason = (
        (MessageStatus.DEFERRED, QUIET_HOURS) if later else (MessageStatus.QUEUED, "")
    )
    if conn.capabilities.dialect == "postgres":
        lock = SqlParams(conn)
        sql = (
            f'SELECT id FROM "member" WHERE brand_id = {lock(brand_id, "bigint")} '
            f"AND id IN ({request.members_sql(lock)}) ORDER BY id FOR UPDATE"
        )
        await conn.execute_query(sql, lock.values)

    # Parameters are added in the order they appear in the text (SQLite's
    # ``?`` are positional): the outer SELECT list first, then the decision.
    p = SqlParams(conn)
    cols = (
        "brand_id, member_id, channel, purpose, template_id, source, variables, "
        "idempotency_key, status, reason, provider, attempts, send_after, created_at, updated_at"
    )
    outer = (
        f"SELECT {p(brand_id, 'bigint')}, dec.member_id, {p(channel.value)}, "
        f"{p(purpose.value)}, {p(request.template_id, 'bigint')}, {p(request.source[:64])}, "
        f"{p.json(repr('{}'))}, {p(request.idempotency_key)}, "
        f"CASE WHEN dec.held IS NULL THEN {p(go_status.value)} "
        f"ELSE {p(MessageStatus.HELD.value)} END, "
        f"COALESCE(dec.held, {p(go_reason)}), '', 0, "
        f"CASE WHEN dec.held IS NULL THEN {p(later or now)} ELSE {p(now)} END, "
        f"{p(now)}, {p(now)} "
    )
    # The checks in _decide's order; CASE stops at the first that holds, as
    # _decide returns at the first no. ``held`` is the reason, NULL: may go.
    # Each member's facts are looked up by index, row by row (correlated
    # subqueries), so a batch costs its own size, not the size of the
    # consent or do-not-contact tables.
    tests: list[tuple[str, str]] = []
    column = ADDRESS_COLUMN.get(channel)
    if column is not None:
        tests.append(("COALESCE(s.address, '') = ''", p(NO_ADDRESS)))
    tests.append(("s.blocked IS NOT NULL", f"{p(do_not_contact_reason(''))} || s.blocked"))
    default = "TRUE" if consent_default(purpose) else "FALSE"
    tests.append((f"NOT COALESCE(s.granted, {default})", p(NO_CONSENT)))
    if purpose is Purpose.MARKETING:
        for cap in caps_for(rules, channel):
            count = (
                'SELECT COUNT(*) FROM "message" x WHERE x.brand_id = s.brand_id '
                f"AND x.member_id = s.member_id AND x.purpose = {p(Purpose.MARKETING.value)} "
                f"AND x.status IN ({', '.join(p(s.value) for s in COUNTED)}) "
                f"AND x.send_after > {p(now - timedelta(hours=cap['hours']))}"
            )
            if cap["channel"] != "*":
                count += f" AND x.channel = {p(channel.value)}"
            tests.append((f"({count}) >= {p(int(cap['limit']), 'bigint')}", p(cap_reason(cap))))
    decision = " ".join(f"WHEN {condition} THEN {reason}" for condition, reason in tests)
    address_sql = f"m.{column}" if column is not None else "NULL"
    facts = (
        f"SELECT m.id AS member_id, m.brand_id AS brand_id, {address_sql} AS address, "
        '(SELECT d.reason FROM "do_not_contact" d WHERE d.brand_id = m.brand_id '
        f"AND d.member_id = m.id AND d.channel = {p(channel.value)}) AS blocked, "
        '(SELECT cc.granted FROM "channel_consent" cc WHERE cc.brand_id = m.brand_id '
        f"AND cc.member_id = m.id AND cc.channel = {p(channel.value)} "
        f"AND cc.purpose = {p(purpose.value)}) AS granted "
        f'FROM "member" m WHERE m.brand_id = {p(brand_id, "bigint")} '
        f"AND m.id IN ({request.members_sql(p)})"
    )
    sql = (
        f'INSERT INTO "message" ({cols}) {outer}'
        f"FROM (SELECT s.member_id, CASE {decision} ELSE NULL END AS held "
        f"FROM ({facts}) s{' OFFSET 0' if p.postgres else ''}) dec "
        # (WHERE TRUE: SQLite reads an ON CONFLICT after a bare FROM as a join's ON.)
        "WHERE TRUE ON CONFLICT (brand_id, member_id, idempotency_key) DO NOTHING"
    )
    # Delivery on the bulk lane, as :func:`schedule` would queue each: one
    # ``channels_send`` per message that may go, due at its send_after; only
    # for messages this statement wrote (one kept from an earlier decision
    # was queued then).
    if p.postgres:
        # One statement: the inserted rows feed the outbox straight away.
        kind = p(SEND_JOB[purpose])
        opening, closing = p('{"args": ['), p('], "kwargs": {}}')
        payload = p.json(
            f"{opening} || CAST(ins.brand_id AS TEXT) || ', ' || CAST(ins.id AS TEXT) || {closing}"
        )
        waiting = f"{p(MessageStatus.QUEUED.value)}, {p(MessageStatus.DEFERRED.value)}"
        sql = (
            f"WITH ins AS ({sql} RETURNING id, brand_id, status, send_after) "
            'INSERT INTO "outbox" (brand_id, kind, payload, created_at, available_at, attempts) '
            f"SELECT ins.brand_id, {kind}, {payload}, {p(now)}, ins.send_after, 0 "
            f"FROM ins WHERE ins.status IN ({waiting})"
        )
        await conn.execute_query(sql, p.values)
        return later
    await conn.execute_query(sql, p.values)
    q = SqlParams(conn)
    kind = q(SEND_JOB[purpose])
    opening, closing = q('{"args": ['), q('], "kwargs": {}}')
    payload = q.json(
        f"{opening} || CAST(x.brand_id AS TEXT) || ', ' || CAST(x.id AS TEXT) || {closing}"
    )
    sql = (
        'INSERT INTO "outbox" (brand_id, kind, payload, created_at, available_at, attempts) '
        f"SELECT x.brand_id, {kind}, {payload}, {q(now)}, x.send_after, 0 "
        f'FROM "message" x WHERE x.brand_id = {q(brand_id, "bigint")} '
        f"AND x.idempotency_key = {q(request.idempotency_key)} AND x.created_at = {q(now)} "
        f"AND x.status IN ({q(MessageStatus.QUEUED.value)}, {q(MessageStatus.DEFERRED.value)}) "
        f"AND x.member_id IN ({request.members_sql(q)})"
    )
    await conn.execute_query(sql, q.values)
    return later
