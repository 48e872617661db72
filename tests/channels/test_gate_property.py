"""The gate's promises over any sequence of sends (hypothesis), and under
concurrency: no window of any cap holds more marketing messages than the
cap; no message goes to a do-not-contact member or, for marketing, without
consent; marketing never lands in quiet hours (it is deferred, not dropped)."""

from __future__ import annotations

import asyncio
import itertools
from datetime import UTC, datetime, time, timedelta
from typing import Any
from zoneinfo import ZoneInfo

from hypothesis import given, settings
from hypothesis import strategies as st

from tessera.channels import gate, service
from tessera.channels.models import Channel, DoNotContactReason, Message, MessageStatus, Purpose
from tessera.members.service import create_member
from tessera.scope import BrandScope
from tessera.testing import make_brand

CAPS = [service.Cap("email", 2, 24), service.Cap("sms", 1, 12), service.Cap("*", 3, 72)]
QUIET = (time(22, 0), time(7, 0))
ZONE = ZoneInfo("Asia/Shanghai")
T0 = datetime(2026, 5, 1, 0, 0, tzinfo=UTC)


send_step = st.tuples(
    st.just("send"),
    st.integers(0, 1),
    st.sampled_from([Channel.EMAIL, Channel.SMS]),
    st.sampled_from(list(Purpose)),
)
other_step = st.tuples(
    st.sampled_from(["dnc", "consent_on", "consent_off"]),
    st.integers(0, 1),
    st.sampled_from([Channel.EMAIL, Channel.SMS]),
    st.just(Purpose.MARKETING),
)
steps = st.lists(
    st.tuples(st.one_of(send_step, send_step, other_step), st.integers(0, 20 * 60)),
    min_size=1,
    max_size=30,
)
numbers = itertools.count()


async def programme() -> tuple[BrandScope, list[int], dict[Channel, int]]:
    brand = await make_brand(f"gate-{next(numbers)}")
    scope = BrandScope(brand)
    await service.set_contact_rules(scope, quiet_start=QUIET[0], quiet_end=QUIET[1], caps=CAPS)
    members = [
        (
            await create_member(
                scope, {"name": f"m{i}", "email": f"m{i}@example.com", "phone": f"+861380000000{i}"}
            )
        ).id
        for i in range(2)
    ]
    templates = {
        Channel.EMAIL: (
            await service.create_template(scope, name="e", channel=Channel.EMAIL, body="hi")
        ).id,
        Channel.SMS: (
            await service.create_template(scope, name="s", channel=Channel.SMS, body="hi")
        ).id,
    }
    return scope, members, templates


def in_quiet_hours(at: datetime) -> bool:
    clock = at.astimezone(ZONE).time().replace(tzinfo=None)
    return clock >= QUIET[0] or clock < QUIET[1]


def assert_caps_hold(sent: list[Message]) -> None:
    marketing = [m for m in sent if m.purpose is Purpose.MARKETING]
    for cap in CAPS:
        for member_id in {m.member_id for m in marketing}:
            times = sorted(
                m.send_after
                for m in marketing
                if m.member_id == member_id and cap.channel in ("*", m.channel.value)
            )
            for i, start in enumerate(times):
                inside = [t for t in times[i:] if t < start + timedelta(hours=cap.hours)]
                assert len(inside) <= cap.limit, (cap, member_id, times)


@settings(settings.get_profile("database-examples"), max_examples=25)
@given(programme_steps=steps)
def test_no_sequence_of_sends_breaks_a_rule(
    session_loop: Any, tessera_db: Any, programme_steps: Any
) -> None:
    async def check() -> None:
        scope, members, templates = await programme()
        now = T0
        blocked: set[tuple[int, Channel]] = set()
        consented: set[tuple[int, Channel]] = set()
        for (action, who, channel, purpose), minutes in programme_steps:
            now += timedelta(minutes=minutes)
            member_id = members[who]
            if action == "dnc":
                await service.add_do_not_contact(
                    scope, member_id, channel, DoNotContactReason.MANUAL
                )
                blocked.add((member_id, channel))
                continue
            if action.startswith("consent"):
                granted = action == "consent_on"
                await service.set_consent(
                    scope, member_id, channel, Purpose.MARKETING, granted, "test"
                )
                (consented.add if granted else consented.discard)((member_id, channel))
                continue
            request = gate.SendRequest(member_id, templates[channel], purpose, "test")
            async with gate.unit_of_work(scope) as uow:
                message = await gate.submit(uow, request, now)
            if (member_id, channel) in blocked:
                assert message.status is MessageStatus.HELD and message.reason.startswith(
                    "do_not_contact"
                )
            elif purpose is Purpose.MARKETING and (member_id, channel) not in consented:
                assert (message.status, message.reason) == (MessageStatus.HELD, "no_consent")
            elif purpose is Purpose.TRANSACTIONAL:
                assert message.status is MessageStatus.QUEUED
            elif message.status is MessageStatus.DEFERRED:
                assert in_quiet_hours(now) and not in_quiet_hours(message.send_after)
            elif message.status is MessageStatus.QUEUED:
                assert not in_quiet_hours(now)
            else:
                assert message.reason.startswith("frequency_cap:")
        sent = await scope.query(Message).exclude(status=MessageStatus.HELD)
        assert_caps_hold(sent)
        for message in sent:
            if message.purpose is Purpose.MARKETING:
                assert not in_quiet_hours(message.send_after)

    session_loop.run_until_complete(check())


async def test_concurrent_sends_to_one_member_stay_within_the_cap(tessera_db: Any) -> None:
    scope, members, templates = await programme()
    await service.set_contact_rules(
        scope, quiet_start=None, quiet_end=None, caps=[service.Cap("*", 3, 24)]
    )
    await service.set_consent(scope, members[0], Channel.EMAIL, Purpose.MARKETING, True, "test")
    await service.set_consent(scope, members[0], Channel.SMS, Purpose.MARKETING, True, "test")

    async def one(i: int) -> Message:
        channel = Channel.EMAIL if i % 2 else Channel.SMS
        return await gate.send(
            scope, gate.SendRequest(members[0], templates[channel], Purpose.MARKETING, "race")
        )

    results = await asyncio.gather(*(one(i) for i in range(12)))
    assert sum(m.status is MessageStatus.QUEUED for m in results) == 3
    assert await scope.query(Message).filter(status=MessageStatus.QUEUED).count() == 3


async def test_concurrent_sends_with_one_idempotency_key_make_one_message(tessera_db: Any) -> None:
    scope, members, templates = await programme()
    request = gate.SendRequest(
        members[0], templates[Channel.EMAIL], Purpose.TRANSACTIONAL, "race", "k-1"
    )
    results = await asyncio.gather(*(gate.send(scope, request) for _ in range(6)))
    assert len({m.id for m in results}) == 1
    assert await scope.query(Message).count() == 1
