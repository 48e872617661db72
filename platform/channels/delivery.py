"""Delivering one message: the ``channels_send`` job (and its transactional
lane, ``channels_send_priority``).

An attempt renders the template for the member, calls the brand's enabled
sender of the channel and records the outcome in one unit of work with what
follows from it: the next attempt after an exponential backoff with jitter,
a do-not-contact for a rejected recipient, the sender's ``lastError`` for a
failure that looks like its configuration. Only the run that saw the message
at its attempt count records it, so a replayed outbox entry changes nothing.
A message is never dropped: it ends sent, failed or rejected, with a reason.
"""

from __future__ import annotations

import logging
import random
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from typing import Any

from tessera import runtime
from tessera.channels import gate, service
from tessera.channels.models import (
    Channel,
    DoNotContactReason,
    Message,
    MessageStatus,
    MessageTemplate,
    Purpose,
)
from tessera.errors import DomainError
from tessera.features.models import BrandFeature
from tessera.features.service import load_config
from tessera.members.models import Member
from tessera.plugin_host.components import (
    ChannelSender,
    ComponentFamily,
    OutboundMessage,
    SendResult,
    SendStatus,
)
from tessera.scope import BrandScope
from tessera.uow import unit_of_work
from tessera.webhooks.triggers import scope_of

log = logging.getLogger("tessera.channels")

MAX_ATTEMPTS = 8
RETRY_BASE_S = 30.0
RETRY_MAX_S = 3600.0
MAX_REASON = 500
WAITING = (MessageStatus.QUEUED, MessageStatus.DEFERRED)


def backoff_s(attempt: int) -> float:
    """Wait after failed attempt ``attempt``: doubling from 30 s up to an hour,
    times 50-100 % so messages failing together do not return together."""
    return min(RETRY_MAX_S, RETRY_BASE_S * 2 ** (attempt - 1)) * random.uniform(0.5, 1.0)


@dataclass(frozen=True)
class EnabledSender:
    feature: BrandFeature
    sender: ChannelSender


async def sender_for(scope: BrandScope, channel: Channel) -> EnabledSender | None:
    """The brand's enabled sender of ``channel`` (at most one, by the
    features rules). Raises :class:`DomainError` when its stored config no
    longer validates."""
    rt = runtime.current()
    features = await scope.query(BrandFeature).filter(
        family=ComponentFamily.CHANNEL_SENDER.value, enabled=True
    )
    for feature in features:
        registered = rt.host.component(feature.component_key)
        if registered is None or getattr(registered.cls, "channel", None) != channel.value:
            continue
        cls = registered.cls
        try:
            config = load_config(cls, feature, rt.settings)
        except Exception as exc:
            raise DomainError(
                "INVALID_CONFIG", f"{cls.key}: config does not validate: {exc}"
            ) from exc
        return EnabledSender(feature, cls(config))  # type: ignore[arg-type]
    return None


async def channels_send(ctx: dict[str, Any], brand_id: int, message_pk: int) -> str:
    """Make one attempt of a message; returns its status afterwards."""
    scope = await scope_of(brand_id)
    message = await scope.get(Message, message_pk) if scope else None
    if scope is None or message is None:
        return "gone"
    if message.status not in WAITING:
        return message.status.value  # a replayed entry: the first run settled it
    # The claim: of two runs of one attempt at once (an outbox lease that ran
    # out while arq still held the job), only the one whose conditional
    # UPDATE counts the attempt sends. What remains is a run killed after the
    # provider took the message and before _record: its retry sends again
    # (docs/campaigns.md, "Exactly once").
    claimed = await (
        scope.query(Message)
        .filter(id=message.id, status__in=WAITING, attempts=message.attempts)
        .update(attempts=message.attempts + 1)
    )
    if not claimed:
        return "skipped"
    message.attempts += 1
    enabled: EnabledSender | None = None
    try:
        outbound = await _outbound(scope, message)
        enabled = await sender_for(scope, message.channel)
        if enabled is None:
            result = SendResult.failed(
                f"no {message.channel.value} sender is enabled for the brand", retryable=False
            )
        else:
            result = await _send(enabled.sender, outbound)
    except DomainError as problem:
        result = SendResult.failed(problem.message, retryable=False)
        if problem.code == "INVALID_CONFIG":
            await _record_sender_error(scope, message.channel, problem.message)
    return await _record(scope, message, enabled, result)


async def _send(sender: ChannelSender, outbound: OutboundMessage) -> SendResult:
    try:
        return await sender.send(outbound)
    except Exception as exc:  # a timeout or a broken plugin: try again later
        log.warning("sender %s raised: %r", sender.key, exc, extra={"sender": sender.key})
        return SendResult.failed(f"{type(exc).__name__}: {exc}", retryable=True)


async def _outbound(scope: BrandScope, message: Message) -> OutboundMessage:
    member = await scope.get(Member, message.member_id)
    template = (
        await scope.get(MessageTemplate, message.template_id) if message.template_id else None
    )
    if member is None or template is None:
        raise DomainError("NOT_FOUND", "the member or the template was deleted")
    to = gate.address(member, message.channel)
    if to is None:
        raise DomainError("REQUIRED", f"the member has no address on {message.channel.value}")
    rendered, variables = await service.render_for(scope, template, member, message.variables)
    data: dict[str, Any] = {"member_id": member.id}
    if message.purpose is Purpose.MARKETING:
        data["unsubscribe_url"] = variables["links"]["unsubscribe"]
    return OutboundMessage(
        to=to,
        body=rendered.body,
        subject=rendered.subject,
        html=rendered.html,
        message_id=str(message.id),
        template=template.provider_template or None,
        params=_params(variables),
        data=data,
    )


def _params(variables: dict[str, Any]) -> dict[str, str]:
    """Template variables flattened (``member.name``) for providers that send
    registered templates with named parameters."""
    flat: dict[str, str] = {}
    for key, value in variables.items():
        if isinstance(value, dict):
            for inner, item in value.items():
                if not isinstance(item, (dict, list)):
                    flat[f"{key}.{inner}"] = "" if item is None else str(item)
        elif value is not None:
            flat[key] = str(value)
    return flat


async def _record_sender_error(
    scope: BrandScope, channel: Channel, error: str, key: str | None = None
) -> None:
    query = scope.query(BrandFeature).filter(
        family=ComponentFamily.CHANNEL_SENDER.value, enabled=True
    )
    if key is not None:
        query = query.filter(component_key=key)
    else:
        host = runtime.current().host
        keys = [
            c.key for c in host.components() if getattr(c.cls, "channel", None) == channel.value
        ]
        query = query.filter(component_key__in=keys)
    await query.update(last_error=error[:2000], last_error_at=datetime.now(UTC))


async def _record(
    scope: BrandScope, message: Message, enabled: EnabledSender | None, result: SendResult
) -> str:
    now = datetime.now(UTC)
    attempt = message.attempts  # claimed by channels_send
    error = (result.error or "")[:MAX_REASON]
    changes: dict[str, Any] = {"attempts": attempt}
    if enabled is not None:
        changes["provider"] = enabled.sender.key
    retry_in: float | None = None
    if result.status is SendStatus.DELIVERED:
        changes.update(
            status=MessageStatus.SENT, reason="", provider_id=result.provider_id, sent_at=now
        )
    elif result.status is SendStatus.REJECTED:
        changes.update(status=MessageStatus.REJECTED, reason=error, provider_id=result.provider_id)
    elif result.retryable and attempt < MAX_ATTEMPTS:
        retry_in = backoff_s(attempt)
        changes.update(
            status=MessageStatus.QUEUED,
            reason=f"retrying: {error}",
            send_after=now + timedelta(seconds=retry_in),
        )
    else:
        given_up = f"after {attempt} attempt(s): {error}" if result.retryable else error
        changes.update(status=MessageStatus.FAILED, reason=given_up[:MAX_REASON])
    async with unit_of_work(scope) as uow:
        taken = await (
            scope.query(Message)
            .using_db(uow.connection)
            .filter(id=message.id, status__in=WAITING, attempts=message.attempts)
            .update(**changes)
        )
        if not taken and changes["status"] is MessageStatus.SENT and message.attempts > 0:
            # Held while this claimed attempt was at the provider (a campaign
            # cancelled mid-send): the message went out, so the log says so.
            # A held message carrying this claim's number (one or more) can
            # only have been held after the claim: the gate's holds have none.
            taken = await (
                scope.query(Message)
                .using_db(uow.connection)
                .filter(id=message.id, status=MessageStatus.HELD, attempts=message.attempts)
                .update(**changes)
            )
        if not taken:
            return "skipped"
        if result.status is SendStatus.REJECTED:
            await service.add_do_not_contact(
                scope,
                message.member_id,
                message.channel,
                DoNotContactReason.PROVIDER_REJECTED,
                error,
                connection=uow.connection,
            )
        if retry_in is not None:
            message.status = MessageStatus.QUEUED
            gate.schedule(uow, message, delay_s=retry_in)
    if changes["status"] is MessageStatus.FAILED and enabled is not None:
        # The sender's page shows why its messages fail (a wrong password, a
        # gateway refusing the account): the operator fixes it there.
        await _record_sender_error(scope, message.channel, error, enabled.sender.key)
    return changes["status"].value
