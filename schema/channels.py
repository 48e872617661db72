"""Channels: message templates, contact rules, consent and do-not-contact,
trigger rules, sending through the gate and the message log
(docs/channels.md). Templates, rules and trigger rules need the manage
scope; sending and consent the write scope; the log the read scope; a member
token reads and changes its own consent."""

from __future__ import annotations

from datetime import datetime, time
from typing import Any, cast

import strawberry
from strawberry.scalars import JSON
from strawberry.types import Info

from tessera.channels import gate, models, rendering, service
from tessera.channels.triggers import TRIGGERS
from tessera.errors import DomainError
from tessera.schema.errors import UserError
from tessera.schema.ids import encode_id, require_id
from tessera.schema.members.session import acting_member
from tessera.schema.pagination import Connection, Window, paginate
from tessera.schema.permissions import CanManage, CanRead, CanWrite, IsMember

ChannelKind = strawberry.enum(
    models.Channel, name="Channel", description="A way to reach a member."
)
MessagePurpose = strawberry.enum(
    models.Purpose,
    name="MessagePurpose",
    description="TRANSACTIONAL: about the member's own account (no opt-in needed, never capped "
    "or deferred); MARKETING: needs opt-in, capped, kept out of quiet hours.",
)
MessageStatus = strawberry.enum(
    models.MessageStatus, name="MessageStatus", description="Where a message stands."
)
DoNotContactReason = strawberry.enum(
    models.DoNotContactReason,
    name="DoNotContactReason",
    description="Why a member is not contacted on a channel.",
)


@strawberry.type(description="What a message says on one channel (Jinja2, sandboxed).")
class MessageTemplate:
    id: strawberry.ID = strawberry.field(description="Opaque id.")
    name: str = strawberry.field(description="Unique within the brand.")
    channel: ChannelKind = strawberry.field(description="The channel it is for.")  # type: ignore[valid-type]
    subject: str = strawberry.field(description="Email subject; empty on other channels.")
    body: str = strawberry.field(description="The text (an email's text part).")
    html: str = strawberry.field(description="An email's HTML part; empty for none.")
    provider_template: str = strawberry.field(
        description="A provider's registered template code (SMS, WeChat), if it sends those."
    )
    updated_at: datetime = strawberry.field(description="Last change.")

    @classmethod
    def from_model(cls, row: models.MessageTemplate) -> MessageTemplate:
        return cls(
            id=strawberry.ID(encode_id("MessageTemplate", row.id)),
            name=row.name,
            channel=row.channel,
            subject=row.subject,
            body=row.body,
            html=row.html,
            provider_template=row.provider_template,
            updated_at=row.updated_at,
        )


@strawberry.type(description="A template rendered for one member; nothing is sent.")
class TemplatePreview:
    subject: str | None = strawberry.field(description="Rendered subject (email).")
    body: str = strawberry.field(description="Rendered text.")
    html: str | None = strawberry.field(description="Rendered HTML part (email).")
    sms_segments: int | None = strawberry.field(description="SMS: segments the text takes.")
    sms_encoding: str | None = strawberry.field(description="SMS: `GSM-7` or `UCS-2`.")


@strawberry.type(description="One message to one member, from the gate's decision on.")
class Message:
    id: strawberry.ID = strawberry.field(description="Opaque id.")
    member_id: strawberry.ID = strawberry.field(description="The member.")
    channel: ChannelKind = strawberry.field(description="The channel.")  # type: ignore[valid-type]
    purpose: MessagePurpose = strawberry.field(description="Transactional or marketing.")  # type: ignore[valid-type]
    template_id: strawberry.ID | None = strawberry.field(description="Its template, if kept.")
    source: str = strawberry.field(description="`trigger:<event>`, `api`, `admin`...")
    status: MessageStatus = strawberry.field(description="Where it stands.")  # type: ignore[valid-type]
    reason: str = strawberry.field(
        description="Why it was held, deferred, retried or failed (e.g. `no_consent`, "
        "`frequency_cap:sms:1/24h`, `quiet_hours`)."
    )
    provider: str = strawberry.field(description="The sender component that sent it.")
    provider_id: str | None = strawberry.field(description="The provider's id of it.")
    attempts: int = strawberry.field(description="Send attempts made.")
    send_after: datetime = strawberry.field(description="Not sent before this.")
    created_at: datetime = strawberry.field(description="When the gate decided.")
    sent_at: datetime | None = strawberry.field(description="When the provider took it.")
    delivered_at: datetime | None = strawberry.field(description="When a receipt said it arrived.")
    opened_at: datetime | None = strawberry.field(description="First open reported.")
    clicked_at: datetime | None = strawberry.field(description="First click reported.")

    @classmethod
    def from_model(cls, row: models.Message) -> Message:
        return cls(
            id=strawberry.ID(encode_id("Message", row.id)),
            member_id=strawberry.ID(encode_id("Member", row.member_id)),
            channel=row.channel,
            purpose=row.purpose,
            template_id=strawberry.ID(encode_id("MessageTemplate", row.template_id))
            if row.template_id
            else None,
            source=row.source,
            status=row.status,
            reason=row.reason,
            provider=row.provider,
            provider_id=row.provider_id,
            attempts=row.attempts,
            send_after=row.send_after,
            created_at=row.created_at,
            sent_at=row.sent_at,
            delivered_at=row.delivered_at,
            opened_at=row.opened_at,
            clicked_at=row.clicked_at,
        )


@strawberry.type(description="A member's answer for one channel and purpose.")
class ChannelConsent:
    channel: ChannelKind = strawberry.field(description="The channel.")  # type: ignore[valid-type]
    purpose: MessagePurpose = strawberry.field(description="The purpose.")  # type: ignore[valid-type]
    granted: bool = strawberry.field(description="Yes or no.")
    source: str = strawberry.field(
        description="Where it came from: `api`, `member`, `admin`, `unsubscribe_link`, `receipt`."
    )
    updated_at: datetime = strawberry.field(description="When it was given.")

    @classmethod
    def from_model(cls, row: models.ChannelConsent) -> ChannelConsent:
        return cls(
            channel=row.channel,
            purpose=row.purpose,
            granted=row.granted,
            source=row.source,
            updated_at=row.updated_at,
        )


@strawberry.type(description="A channel the member is never contacted on.")
class DoNotContact:
    channel: ChannelKind = strawberry.field(description="The channel.")  # type: ignore[valid-type]
    reason: DoNotContactReason = strawberry.field(description="Why.")  # type: ignore[valid-type]
    detail: str = strawberry.field(description="The provider's words, or the operator's note.")
    created_at: datetime = strawberry.field(description="Since when.")


@strawberry.type(description="A member's consent and do-not-contact entries.")
class MemberContact:
    consents: list[ChannelConsent] = strawberry.field(description="Answers given.")
    do_not_contact: list[DoNotContact] = strawberry.field(description="Stopped channels.")


@strawberry.type(description="A frequency cap: at most `limit` marketing messages in `hours`.")
class FrequencyCap:
    channel: str = strawberry.field(description="A channel (`sms`...), or `*` for all together.")
    limit: int = strawberry.field(description="Messages allowed in the period.")
    hours: int = strawberry.field(description="The period, in hours.")


@strawberry.type(description="The brand's contact rules for marketing messages.")
class ContactRules:
    quiet_start: str | None = strawberry.field(
        description="Start of quiet hours, `HH:MM`, brand time."
    )
    quiet_end: str | None = strawberry.field(description="End of quiet hours, `HH:MM`, brand time.")
    caps: list[FrequencyCap] = strawberry.field(description="Frequency caps.")


@strawberry.type(description="Send a template when something happens to a member.")
class TriggerRule:
    id: strawberry.ID = strawberry.field(description="Opaque id.")
    event: str = strawberry.field(description="The trigger (see `triggerEvents`).")
    template_id: strawberry.ID = strawberry.field(description="The template sent.")
    purpose: MessagePurpose = strawberry.field(description="Transactional or marketing.")  # type: ignore[valid-type]
    delay_minutes: int = strawberry.field(description="Wait this long after the event.")
    segment_id: strawberry.ID | None = strawberry.field(
        description="segment.entered: only this one."
    )
    active: bool = strawberry.field(description="False: the rule sends nothing.")

    @classmethod
    def from_model(cls, row: models.TriggerRule) -> TriggerRule:
        return cls(
            id=strawberry.ID(encode_id("TriggerRule", row.id)),
            event=row.event,
            template_id=strawberry.ID(encode_id("MessageTemplate", row.template_id)),
            purpose=row.purpose,
            delay_minutes=row.delay_minutes,
            segment_id=strawberry.ID(encode_id("Segment", row.segment_id))
            if row.segment_id
            else None,
            active=row.active,
        )


@strawberry.type(description="A trigger a rule can wait for.")
class TriggerEvent:
    name: str = strawberry.field(description="E.g. `member.joined`.")
    description: str = strawberry.field(description="When it fires.")


def _contact(
    consents: list[models.ChannelConsent], stops: list[models.DoNotContact]
) -> MemberContact:
    return MemberContact(
        consents=[ChannelConsent.from_model(c) for c in consents],
        do_not_contact=[
            DoNotContact(
                channel=d.channel, reason=d.reason, detail=d.detail, created_at=d.created_at
            )
            for d in stops
        ],
    )


def _rules(row: models.ChannelSettings | None) -> ContactRules:
    if row is None:
        return ContactRules(quiet_start=None, quiet_end=None, caps=[])
    return ContactRules(
        quiet_start=row.quiet_start,
        quiet_end=row.quiet_end,
        caps=[
            FrequencyCap(channel=c["channel"], limit=c["limit"], hours=c["hours"]) for c in row.caps
        ],
    )


@strawberry.type
class ChannelsQuery:
    @strawberry.field(
        description="The brand's message templates by name. Needs the manage scope.",
        permission_classes=[CanManage],
    )
    async def message_templates(
        self,
        info: Info,
        channel: ChannelKind | None = None,  # type: ignore[valid-type]
    ) -> list[MessageTemplate]:
        query = service.templates(info.context.scope)
        if channel is not None:
            query = query.filter(channel=channel)
        return [MessageTemplate.from_model(row) for row in await query.order_by("name")]

    @strawberry.field(
        description="A template rendered for a member (nothing is sent). Needs the manage scope.",
        permission_classes=[CanManage],
    )
    async def preview_template(
        self, info: Info, template_id: strawberry.ID, member_id: strawberry.ID
    ) -> TemplatePreview:
        scope = info.context.scope
        template = await service.require_template(
            scope, require_id(template_id, "MessageTemplate", "templateId"), "templateId"
        )
        rendered = await service.preview_template(
            scope, template.id, require_id(member_id, "Member", "memberId")
        )
        length = (
            rendering.sms_length(rendered.body) if template.channel is models.Channel.SMS else None
        )
        return TemplatePreview(
            subject=rendered.subject,
            body=rendered.body,
            html=rendered.html,
            sms_segments=length.segments if length else None,
            sms_encoding=length.encoding if length else None,
        )

    @strawberry.field(
        description="The message log, newest first, of one member or all, optionally of one "
        "status. Needs the read scope.",
        permission_classes=[CanRead],
    )
    async def messages(
        self,
        info: Info,
        member_id: strawberry.ID | None = None,
        status: MessageStatus | None = None,  # type: ignore[valid-type]
        first: int | None = None,
        after: str | None = None,
    ) -> Connection[Message]:
        scope = info.context.scope
        pk = await _member(scope, member_id) if member_id is not None else None
        query = service.messages(scope, pk)
        if status is not None:
            query = query.filter(status=status)
        return await paginate(
            query,
            Window(first, after),
            cap=info.context.settings.limits.page_size,
            to_node=Message.from_model,
            descending=True,
        )

    @strawberry.field(
        description="A member's consent and do-not-contact entries. Needs the read scope.",
        permission_classes=[CanRead],
    )
    async def member_contact(self, info: Info, member_id: strawberry.ID) -> MemberContact:
        scope = info.context.scope
        pk = await _member(scope, member_id)
        return _contact(await service.consents(scope, pk), await service.do_not_contact(scope, pk))

    @strawberry.field(
        description="The member's own consent and do-not-contact entries (member token).",
        permission_classes=[IsMember],
    )
    async def my_consent(self, info: Info) -> MemberContact:
        scope = info.context.scope
        pk = info.context.principal.member_id
        return _contact(await service.consents(scope, pk), await service.do_not_contact(scope, pk))

    @strawberry.field(
        description="Quiet hours and frequency caps. Needs the manage scope.",
        permission_classes=[CanManage],
    )
    async def contact_rules(self, info: Info) -> ContactRules:
        return _rules(await gate.contact_rules(info.context.scope))

    @strawberry.field(
        description="The brand's trigger rules. Needs the manage scope.",
        permission_classes=[CanManage],
    )
    async def trigger_rules(self, info: Info) -> list[TriggerRule]:
        rows = await service.trigger_rules(info.context.scope).order_by("event", "id")
        return [TriggerRule.from_model(row) for row in rows]

    @strawberry.field(
        description="The triggers a rule can wait for. Needs the manage scope.",
        permission_classes=[CanManage],
    )
    def trigger_events(self) -> list[TriggerEvent]:
        return [TriggerEvent(name=k, description=v) for k, v in TRIGGERS.items()]


@strawberry.input(description="A new message template; checked before it is stored.")
class CreateMessageTemplateInput:
    name: str = strawberry.field(description="Unique within the brand.")
    channel: ChannelKind = strawberry.field(description="The channel.")  # type: ignore[valid-type]
    body: str = strawberry.field(
        description="The text, Jinja2 (see docs/channels.md for variables)."
    )
    subject: str = strawberry.field(default="", description="Email only.")
    html: str = strawberry.field(default="", description="Email only: the HTML part.")
    provider_template: str = strawberry.field(default="", description="A provider's template code.")


@strawberry.input(description="Changes to a template; omitted fields stay.")
class UpdateMessageTemplateInput:
    id: strawberry.ID = strawberry.field(description="The template.")
    name: str | None = strawberry.field(default=None, description="New name.")
    body: str | None = strawberry.field(default=None, description="New text.")
    subject: str | None = strawberry.field(default=None, description="New subject.")
    html: str | None = strawberry.field(default=None, description="New HTML part.")
    provider_template: str | None = strawberry.field(default=None, description="New template code.")


@strawberry.input(description="The template to delete.")
class DeleteMessageTemplateInput:
    id: strawberry.ID = strawberry.field(description="The template.")


@strawberry.type(description="Result of changing a template.")
class MessageTemplatePayload:
    template: MessageTemplate | None = strawberry.field(default=None, description="As stored.")
    errors: list[UserError] = strawberry.field(description="Why nothing was changed.")


@strawberry.type(description="Result of deleting something.")
class ChannelsDeletePayload:
    deleted_id: strawberry.ID | None = strawberry.field(
        default=None, description="What was deleted."
    )
    errors: list[UserError] = strawberry.field(description="Why nothing was changed.")


@strawberry.input(description="Send a template to a member, through the gate.")
class SendMessageInput:
    member_id: strawberry.ID = strawberry.field(description="The member.")
    template_id: strawberry.ID = strawberry.field(
        description="The template (its channel is the message's)."
    )
    purpose: MessagePurpose = strawberry.field(description="Transactional or marketing.")  # type: ignore[valid-type]
    idempotency_key: str = strawberry.field(
        description="Per member: a replay returns the first message."
    )
    variables: JSON | None = strawberry.field(
        default=None, description="Extra variables, as `event`."
    )


@strawberry.type(description="The message as the gate decided it (HELD with a reason, or queued).")
class SendMessagePayload:
    message: Message | None = strawberry.field(default=None, description="The message.")
    errors: list[UserError] = strawberry.field(description="Why nothing was sent.")


@strawberry.input(description="A member's answer for a channel and purpose.")
class SetConsentInput:
    member_id: strawberry.ID | None = strawberry.field(
        default=None, description="The member (omitted with a member token)."
    )
    channel: ChannelKind = strawberry.field(description="The channel.")  # type: ignore[valid-type]
    purpose: MessagePurpose = strawberry.field(description="The purpose.")  # type: ignore[valid-type]
    granted: bool = strawberry.field(description="Yes or no.")
    source: str = strawberry.field(default="api", description="Where the answer came from.")


@strawberry.type(description="The member's contact settings after the change.")
class ConsentPayload:
    contact: MemberContact | None = strawberry.field(default=None, description="As stored.")
    errors: list[UserError] = strawberry.field(description="Why nothing was changed.")


@strawberry.input(description="Stop (or resume) a channel for a member.")
class DoNotContactInput:
    member_id: strawberry.ID = strawberry.field(description="The member.")
    channel: ChannelKind = strawberry.field(description="The channel.")  # type: ignore[valid-type]
    blocked: bool = strawberry.field(
        description="true stops the channel (reason MANUAL); false resumes it."
    )
    detail: str = strawberry.field(default="", description="A note.")


@strawberry.input(description="A frequency cap.")
class FrequencyCapInput:
    channel: str = strawberry.field(description="A channel, or `*` for all together.")
    limit: int = strawberry.field(description="Messages allowed.")
    hours: int = strawberry.field(description="In this many hours (1-8784).")


@strawberry.input(description="The brand's contact rules, replaced whole.")
class SetContactRulesInput:
    quiet_start: str | None = strawberry.field(
        default=None, description="`HH:MM` brand time, or null for none."
    )
    quiet_end: str | None = strawberry.field(default=None, description="`HH:MM` brand time.")
    caps: list[FrequencyCapInput] = strawberry.field(
        default_factory=list, description="Frequency caps."
    )


@strawberry.type(description="The contact rules as stored.")
class ContactRulesPayload:
    rules: ContactRules | None = strawberry.field(default=None, description="As stored.")
    errors: list[UserError] = strawberry.field(description="Why nothing was changed.")


@strawberry.input(description="A new trigger rule.")
class CreateTriggerRuleInput:
    event: str = strawberry.field(description="A trigger from `triggerEvents`.")
    template_id: strawberry.ID = strawberry.field(description="The template to send.")
    purpose: MessagePurpose = strawberry.field(description="Transactional or marketing.")  # type: ignore[valid-type]
    delay_minutes: int = strawberry.field(default=0, description="Wait after the event (0-43200).")
    segment_id: strawberry.ID | None = strawberry.field(
        default=None, description="segment.entered only."
    )
    active: bool = strawberry.field(default=True, description="Sends from now on.")


@strawberry.input(description="Changes to a trigger rule; omitted fields stay.")
class UpdateTriggerRuleInput:
    id: strawberry.ID = strawberry.field(description="The rule.")
    template_id: strawberry.ID | None = strawberry.field(default=None, description="Template.")
    purpose: MessagePurpose | None = strawberry.field(default=None, description="Purpose.")  # type: ignore[valid-type]
    delay_minutes: int | None = strawberry.field(default=None, description="Delay.")
    active: bool | None = strawberry.field(default=None, description="On or off.")


@strawberry.input(description="The trigger rule to delete.")
class DeleteTriggerRuleInput:
    id: strawberry.ID = strawberry.field(description="The rule.")


@strawberry.type(description="Result of changing a trigger rule.")
class TriggerRulePayload:
    rule: TriggerRule | None = strawberry.field(default=None, description="As stored.")
    errors: list[UserError] = strawberry.field(description="Why nothing was changed.")


def _clock(value: str | None, field: str) -> time | None:
    if value is None or not value.strip():
        return None
    try:
        return time.fromisoformat(value.strip())
    except ValueError:
        raise DomainError("INVALID", "a time is HH:MM", [field]) from None


async def _member(scope: Any, opaque: strawberry.ID | None) -> int:
    pk = require_id(opaque, "Member", "memberId")
    if not await service.member_exists(scope, pk):
        raise DomainError("NOT_FOUND", "no such member", ["memberId"])
    return pk


async def _contact_of(info: Info, member_id: int) -> MemberContact:
    scope = info.context.scope
    return _contact(
        await service.consents(scope, member_id), await service.do_not_contact(scope, member_id)
    )


@strawberry.type
class ChannelsMutation:
    @strawberry.mutation(
        description="Create a message template (refused with positions when it does not "
        "check). Needs the manage scope.",
        permission_classes=[CanManage],
    )
    async def create_message_template(
        self, info: Info, input: CreateMessageTemplateInput
    ) -> MessageTemplatePayload:
        row = await service.create_template(
            info.context.scope,
            name=input.name,
            channel=input.channel,
            body=input.body,
            subject=input.subject,
            html=input.html,
            provider_template=input.provider_template,
        )
        return MessageTemplatePayload(template=MessageTemplate.from_model(row), errors=[])

    @strawberry.mutation(
        description="Change a message template. Needs the manage scope.",
        permission_classes=[CanManage],
    )
    async def update_message_template(
        self, info: Info, input: UpdateMessageTemplateInput
    ) -> MessageTemplatePayload:
        row = await service.update_template(
            info.context.scope,
            require_id(input.id, "MessageTemplate", "id"),
            name=input.name,
            body=input.body,
            subject=input.subject,
            html=input.html,
            provider_template=input.provider_template,
        )
        return MessageTemplatePayload(template=MessageTemplate.from_model(row), errors=[])

    @strawberry.mutation(
        description="Delete a message template no trigger rule uses. Needs the manage scope.",
        permission_classes=[CanManage],
    )
    async def delete_message_template(
        self, info: Info, input: DeleteMessageTemplateInput
    ) -> ChannelsDeletePayload:
        await service.delete_template(
            info.context.scope, require_id(input.id, "MessageTemplate", "id")
        )
        return ChannelsDeletePayload(deleted_id=input.id, errors=[])

    @strawberry.mutation(
        description="Send a template to a member through the gate (consent, do-not-contact, "
        "caps, quiet hours). Needs the write scope.",
        permission_classes=[CanWrite],
    )
    async def send_message(self, info: Info, input: SendMessageInput) -> SendMessagePayload:
        key = input.idempotency_key.strip()
        if not key or len(key) > 200:
            raise DomainError(
                "INVALID", "an idempotency key is 1-200 characters", ["idempotencyKey"]
            )
        variables: Any = input.variables or {}
        if not isinstance(variables, dict):
            raise DomainError("INVALID", "variables must be a JSON object", ["variables"])
        scope = info.context.scope
        template_id = require_id(input.template_id, "MessageTemplate", "templateId")
        await service.require_template(scope, template_id, "templateId")
        row = await gate.send(
            scope,
            gate.SendRequest(
                member_id=require_id(input.member_id, "Member", "memberId"),
                template_id=template_id,
                purpose=input.purpose,
                source="api",
                idempotency_key=key,
                variables={"event": cast(dict[str, Any], variables)},
            ),
        )
        return SendMessagePayload(message=Message.from_model(row), errors=[])

    @strawberry.mutation(
        description="Record a member's consent. Needs the write scope.",
        permission_classes=[CanWrite],
    )
    async def set_consent(self, info: Info, input: SetConsentInput) -> ConsentPayload:
        pk = require_id(input.member_id, "Member", "memberId")
        await service.set_consent(
            info.context.scope,
            pk,
            input.channel,
            input.purpose,
            input.granted,
            input.source.strip() or "api",
        )
        return ConsentPayload(contact=await _contact_of(info, pk), errors=[])

    @strawberry.mutation(
        description="The member changes their own consent (member token).",
        permission_classes=[IsMember],
    )
    async def set_my_consent(self, info: Info, input: SetConsentInput) -> ConsentPayload:
        pk = acting_member(
            info, input.member_id, DomainError("NOT_FOUND", "no such member", ["memberId"])
        )
        await service.set_consent(
            info.context.scope, pk, input.channel, input.purpose, input.granted, "member"
        )
        return ConsentPayload(contact=await _contact_of(info, pk), errors=[])

    @strawberry.mutation(
        description="Stop or resume a channel for a member. Needs the manage scope.",
        permission_classes=[CanManage],
    )
    async def set_do_not_contact(self, info: Info, input: DoNotContactInput) -> ConsentPayload:
        scope = info.context.scope
        pk = await _member(scope, input.member_id)
        if input.blocked:
            await service.add_do_not_contact(
                scope, pk, input.channel, models.DoNotContactReason.MANUAL, input.detail
            )
        else:
            await service.remove_do_not_contact(scope, pk, input.channel)
        return ConsentPayload(contact=await _contact_of(info, pk), errors=[])

    @strawberry.mutation(
        description="Replace quiet hours and frequency caps. Needs the manage scope.",
        permission_classes=[CanManage],
    )
    async def set_contact_rules(
        self, info: Info, input: SetContactRulesInput
    ) -> ContactRulesPayload:
        row = await service.set_contact_rules(
            info.context.scope,
            quiet_start=_clock(input.quiet_start, "quietStart"),
            quiet_end=_clock(input.quiet_end, "quietEnd"),
            caps=[service.Cap(c.channel, c.limit, c.hours) for c in input.caps],
        )
        return ContactRulesPayload(rules=_rules(row), errors=[])

    @strawberry.mutation(
        description="Create a trigger rule. Needs the manage scope.", permission_classes=[CanManage]
    )
    async def create_trigger_rule(
        self, info: Info, input: CreateTriggerRuleInput
    ) -> TriggerRulePayload:
        row = await service.create_trigger_rule(
            info.context.scope,
            event=input.event,
            template_id=require_id(input.template_id, "MessageTemplate", "templateId"),
            purpose=input.purpose,
            delay_minutes=input.delay_minutes,
            segment_id=require_id(input.segment_id, "Segment", "segmentId")
            if input.segment_id
            else None,
            active=input.active,
        )
        return TriggerRulePayload(rule=TriggerRule.from_model(row), errors=[])

    @strawberry.mutation(
        description="Change a trigger rule. Needs the manage scope.", permission_classes=[CanManage]
    )
    async def update_trigger_rule(
        self, info: Info, input: UpdateTriggerRuleInput
    ) -> TriggerRulePayload:
        row = await service.update_trigger_rule(
            info.context.scope,
            require_id(input.id, "TriggerRule", "id"),
            template_id=require_id(input.template_id, "MessageTemplate", "templateId")
            if input.template_id
            else None,
            purpose=input.purpose,
            delay_minutes=input.delay_minutes,
            active=input.active,
        )
        return TriggerRulePayload(rule=TriggerRule.from_model(row), errors=[])

    @strawberry.mutation(
        description="Delete a trigger rule. Needs the manage scope.", permission_classes=[CanManage]
    )
    async def delete_trigger_rule(
        self, info: Info, input: DeleteTriggerRuleInput
    ) -> ChannelsDeletePayload:
        await service.delete_trigger_rule(
            info.context.scope, require_id(input.id, "TriggerRule", "id")
        )
        return ChannelsDeletePayload(deleted_id=input.id, errors=[])
