"""Templates, contact rules, consent and do-not-contact: the services the
GraphQL API and the admin UI both call."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import UTC, datetime, time
from typing import Any

from itsdangerous import BadSignature, URLSafeSerializer
from tortoise.queryset import QuerySet

from tessera import runtime
from tessera.assets.models import AssetAccount
from tessera.channels import rendering
from tessera.channels.models import (
    Channel,
    ChannelConsent,
    ChannelSettings,
    DoNotContact,
    DoNotContactReason,
    Message,
    MessageTemplate,
    Purpose,
    TriggerRule,
)
from tessera.coupons.models import Coupon
from tessera.errors import DomainError
from tessera.members.models import Member
from tessera.scope import BrandScope
from tessera.tiers.models import MemberTierState, TierDefinition
from tessera.uow import unit_of_work

MAX_NAME = 100
MAX_CAPS = 20

# ---- templates -------------------------------------------------------------


def templates(scope: BrandScope) -> QuerySet[MessageTemplate]:
    return scope.query(MessageTemplate)


async def require_template(
    scope: BrandScope, template_id: int | None, field: str = "id"
) -> MessageTemplate:
    found = await scope.get(MessageTemplate, template_id) if template_id else None
    if found is None:
        raise DomainError("NOT_FOUND", "no such message template", [field])
    return found


def _name(value: str) -> str:
    value = value.strip()
    if not value:
        raise DomainError("REQUIRED", "a template needs a name", ["name"])
    if len(value) > MAX_NAME:
        raise DomainError("TOO_LONG", f"a name has at most {MAX_NAME} characters", ["name"])
    return value


async def create_template(
    scope: BrandScope,
    *,
    name: str,
    channel: Channel,
    body: str,
    subject: str = "",
    html: str = "",
    provider_template: str = "",
) -> MessageTemplate:
    """Check the template (syntax, variables, SMS length, HTML) and store it;
    a template that fails any check is refused whole, with each position."""
    cleaned = _name(name)
    rendering.check(channel, body, subject, html)
    if await templates(scope).filter(name=cleaned).exists():
        raise DomainError("DUPLICATE", "a template with this name exists", ["name"])
    async with unit_of_work(scope) as uow:
        return await scope.create(
            MessageTemplate,
            using_db=uow.connection,
            name=cleaned,
            channel=channel,
            body=body,
            subject=subject,
            html=html,
            provider_template=provider_template.strip()[:100],
        )


async def update_template(
    scope: BrandScope,
    template_id: int,
    *,
    name: str | None = None,
    body: str | None = None,
    subject: str | None = None,
    html: str | None = None,
    provider_template: str | None = None,
) -> MessageTemplate:
    template = await require_template(scope, template_id)
    changes: dict[str, Any] = {}
    if name is not None:
        changes["name"] = _name(name)
        taken = templates(scope).filter(name=changes["name"]).exclude(id=template.id)
        if await taken.exists():
            raise DomainError("DUPLICATE", "a template with this name exists", ["name"])
    for key, value in (("body", body), ("subject", subject), ("html", html)):
        if value is not None:
            changes[key] = value
    if provider_template is not None:
        changes["provider_template"] = provider_template.strip()[:100]
    rendering.check(
        template.channel,
        changes.get("body", template.body),
        changes.get("subject", template.subject),
        changes.get("html", template.html),
    )
    if changes:
        async with unit_of_work(scope) as uow:
            await templates(scope).using_db(uow.connection).filter(id=template.id).update(**changes)
    return await require_template(scope, template.id)


async def delete_template(scope: BrandScope, template_id: int) -> None:
    template = await require_template(scope, template_id)
    if await scope.query(TriggerRule).filter(template_id=template.id).exists():
        raise DomainError("IN_USE", "a trigger rule sends this template; delete it first", ["id"])
    async with unit_of_work(scope) as uow:
        await templates(scope).using_db(uow.connection).filter(id=template.id).delete()


# ---- what a template sees ----------------------------------------------------

UNSUBSCRIBE_SALT = "tessera.channels.unsubscribe"
RECEIPT_SALT = "tessera.channels.receipts"


def _serializer(salt: str) -> URLSafeSerializer:
    return URLSafeSerializer(runtime.current().settings.secret(), salt=salt)


def unsubscribe_token(brand_id: int, member_id: int, channel: Channel) -> str:
    return _serializer(UNSUBSCRIBE_SALT).dumps([brand_id, member_id, channel.value])


def read_unsubscribe_token(token: str) -> tuple[int, int, Channel] | None:
    try:
        brand_id, member_id, channel = _serializer(UNSUBSCRIBE_SALT).loads(token)
        return int(brand_id), int(member_id), Channel(channel)
    except (BadSignature, ValueError, TypeError):
        return None


def unsubscribe_url(brand_id: int, member_id: int, channel: Channel) -> str:
    base = runtime.current().settings.public_url.rstrip("/")
    return f"{base}/channels/unsubscribe/{unsubscribe_token(brand_id, member_id, channel)}"


def receipt_token(brand_code: str, component: str) -> str:
    return _serializer(RECEIPT_SALT).dumps([brand_code, component])


def receipt_token_valid(token: str, brand_code: str, component: str) -> bool:
    try:
        return bool(_serializer(RECEIPT_SALT).loads(token) == [brand_code, component])
    except BadSignature:
        return False


def receipt_url(brand_code: str, component: str) -> str:
    """The callback URL to give the provider of ``component`` for ``brand_code``."""
    base = runtime.current().settings.public_url.rstrip("/")
    return (
        f"{base}/channels/receipts/{brand_code}/{component}/{receipt_token(brand_code, component)}"
    )


async def variables_for(
    scope: BrandScope, member: Member, channel: Channel, extra: dict[str, Any] | None = None
) -> dict[str, Any]:
    """The variables a template renders with, for ``member``: a handful of
    queries, one member at a time (a send renders one message)."""
    extra = extra or {}
    points: list[int] = await (
        scope.query(AssetAccount)
        .filter(member_id=member.id, kind="points")
        .values_list("balance", flat=True)  # type: ignore[assignment]
    )
    state = await scope.query(MemberTierState).filter(member_id=member.id).first()
    tier = None
    if state is not None and state.tier_id is not None:
        definition = await scope.get(TierDefinition, state.tier_id)
        if definition is not None:
            tier = {"code": definition.code, "name": definition.name}
    coupon = None
    if extra.get("coupon_id"):
        found = await scope.query(Coupon).filter(id=extra["coupon_id"], member_id=member.id).first()
        if found is not None:
            template = await found.template
            coupon = {
                "code": found.code,
                "title": template.title,
                "expires_at": _iso(getattr(found, "expires_at", None)),
            }
    return {
        "member": {
            "id": member.id,
            "name": member.name,
            "card_number": member.card_number or "",
            "email": member.email or "",
            "phone": member.phone or "",
            "birthday": _iso(member.birthday),
            "joined_at": _iso(member.joined_at),
            "external_id": member.external_id or "",
        },
        "tier": tier,
        "points": int(points[0]) if points else 0,
        "coupon": coupon,
        "links": {"unsubscribe": unsubscribe_url(scope.brand_id, member.id, channel)},
        "brand": {"name": scope.brand.name, "code": scope.brand.code},
        "event": dict(extra.get("event") or {}),
    }


def _iso(value: Any) -> str:
    return value.isoformat() if value is not None else ""


async def render_for(
    scope: BrandScope,
    template: MessageTemplate,
    member: Member,
    extra: dict[str, Any] | None = None,
) -> tuple[rendering.Rendered, dict[str, Any]]:
    variables = await variables_for(scope, member, template.channel, extra)
    return (
        rendering.render(
            template.channel, template.body, template.subject, template.html, variables
        ),
        variables,
    )


async def preview_template(
    scope: BrandScope, template_id: int, member_id: int
) -> rendering.Rendered:
    """The template as ``member_id`` would receive it (nothing is sent)."""
    template = await require_template(scope, template_id, "templateId")
    member = await scope.get(Member, member_id)
    if member is None:
        raise DomainError("NOT_FOUND", "no such member", ["memberId"])
    rendered, _ = await render_for(scope, template, member)
    return rendered


# ---- contact rules -----------------------------------------------------------


@dataclass(frozen=True)
class Cap:
    channel: str  # a channel, or "*" for all together
    limit: int
    hours: int


async def set_contact_rules(
    scope: BrandScope, *, quiet_start: time | None, quiet_end: time | None, caps: list[Cap]
) -> ChannelSettings:
    if (quiet_start is None) != (quiet_end is None):
        raise DomainError("REQUIRED", "quiet hours need both a start and an end", ["quietEnd"])
    if len(caps) > MAX_CAPS:
        raise DomainError("TOO_MANY", f"at most {MAX_CAPS} caps", ["caps"])
    stored = []
    for i, cap in enumerate(caps):
        if cap.channel != "*" and cap.channel not in {c.value for c in Channel}:
            raise DomainError(
                "INVALID", "a cap's channel is a channel or *", ["caps", str(i), "channel"]
            )
        if cap.limit < 0 or not 1 <= cap.hours <= 24 * 366:
            raise DomainError("OUT_OF_RANGE", "limit >= 0 and 1-8784 hours", ["caps", str(i)])
        stored.append({"channel": cap.channel, "limit": cap.limit, "hours": cap.hours})
    async with unit_of_work(scope) as uow:
        existing = await scope.query(ChannelSettings).using_db(uow.connection).first()
        values = {
            "quiet_start": quiet_start.strftime("%H:%M") if quiet_start else None,
            "quiet_end": quiet_end.strftime("%H:%M") if quiet_end else None,
            "caps": stored,
        }
        if existing is None:
            return await scope.create(ChannelSettings, using_db=uow.connection, **values)
        await (
            scope.query(ChannelSettings)
            .using_db(uow.connection)
            .filter(id=existing.id)
            .update(**values)
        )
    found = await scope.query(ChannelSettings).first()
    assert found is not None
    return found


# ---- consent and do-not-contact ----------------------------------------------


async def consents(scope: BrandScope, member_id: int) -> list[ChannelConsent]:
    return (
        await scope.query(ChannelConsent).filter(member_id=member_id).order_by("channel", "purpose")
    )


async def set_consent(
    scope: BrandScope,
    member_id: int,
    channel: Channel,
    purpose: Purpose,
    granted: bool,
    source: str,
) -> ChannelConsent:
    """Record the member's yes or no (an upsert: the latest answer counts)."""
    now = datetime.now(UTC)
    async with unit_of_work(scope) as uow:
        conn = uow.connection
        if not await scope.query(Member).using_db(conn).filter(id=member_id).exists():
            raise DomainError("NOT_FOUND", "no such member", ["memberId"])
        rows = (
            scope.query(ChannelConsent)
            .using_db(conn)
            .filter(member_id=member_id, channel=channel, purpose=purpose)
        )
        if not await rows.update(granted=granted, source=source[:64], updated_at=now):
            await scope.create(
                ChannelConsent,
                using_db=conn,
                member_id=member_id,
                channel=channel,
                purpose=purpose,
                granted=granted,
                source=source[:64],
                updated_at=now,
            )
    found = (
        await scope.query(ChannelConsent)
        .filter(member_id=member_id, channel=channel, purpose=purpose)
        .first()
    )
    assert found is not None
    return found


async def add_do_not_contact(
    scope: BrandScope,
    member_id: int,
    channel: Channel,
    reason: DoNotContactReason,
    detail: str = "",
    connection: Any = None,
) -> None:
    """Stop every send to the member on the channel (kept if one exists)."""
    rows = [
        scope.build(
            DoNotContact, member_id=member_id, channel=channel, reason=reason, detail=detail[:500]
        )
    ]
    if connection is not None:
        await scope.insert_many(DoNotContact, rows, connection, ignore_conflicts=True)
        return
    async with unit_of_work(scope) as uow:
        await scope.insert_many(DoNotContact, rows, uow.connection, ignore_conflicts=True)


async def remove_do_not_contact(scope: BrandScope, member_id: int, channel: Channel) -> bool:
    async with unit_of_work(scope) as uow:
        removed: int = await (
            scope.query(DoNotContact)
            .using_db(uow.connection)
            .filter(member_id=member_id, channel=channel)
            .delete()
        )
    return removed > 0


async def do_not_contact(scope: BrandScope, member_id: int) -> list[DoNotContact]:
    return await scope.query(DoNotContact).filter(member_id=member_id).order_by("channel")


def messages(scope: BrandScope, member_id: int | None = None) -> QuerySet[Message]:
    query = scope.query(Message)
    return query if member_id is None else query.filter(member_id=member_id)


# ---- trigger rules -------------------------------------------------------------

MAX_DELAY_MINUTES = 60 * 24 * 30


def trigger_rules(scope: BrandScope) -> QuerySet[TriggerRule]:
    return scope.query(TriggerRule)


async def require_trigger_rule(scope: BrandScope, rule_id: int | None) -> TriggerRule:
    found = await scope.get(TriggerRule, rule_id) if rule_id else None
    if found is None:
        raise DomainError("NOT_FOUND", "no such trigger rule", ["id"])
    return found


def _check_rule(event: str, delay_minutes: int) -> None:
    from tessera.channels.triggers import TRIGGERS

    if event not in TRIGGERS:
        raise DomainError("INVALID", f"no such trigger: {event}", ["event"])
    if not 0 <= delay_minutes <= MAX_DELAY_MINUTES:
        raise DomainError(
            "OUT_OF_RANGE", "a delay is 0 to 43200 minutes (30 days)", ["delayMinutes"]
        )


async def create_trigger_rule(
    scope: BrandScope,
    *,
    event: str,
    template_id: int,
    purpose: Purpose,
    delay_minutes: int = 0,
    segment_id: int | None = None,
    active: bool = True,
) -> TriggerRule:
    _check_rule(event, delay_minutes)
    template = await require_template(scope, template_id, "templateId")
    if segment_id is not None:
        from tessera.segments.models import Segment

        if event != "segment.entered":
            raise DomainError("INVALID", "only segment.entered rules name a segment", ["segmentId"])
        if await scope.get(Segment, segment_id) is None:
            raise DomainError("NOT_FOUND", "no such segment", ["segmentId"])
    from tessera.channels import triggers

    async with unit_of_work(scope) as uow:
        rule = await scope.create(
            TriggerRule,
            using_db=uow.connection,
            event=event,
            template_id=template.id,
            purpose=purpose,
            delay_minutes=delay_minutes,
            segment_id=segment_id,
            active=active,
        )
    triggers.forget(scope.brand_id)
    return rule


async def update_trigger_rule(
    scope: BrandScope,
    rule_id: int,
    *,
    template_id: int | None = None,
    purpose: Purpose | None = None,
    delay_minutes: int | None = None,
    active: bool | None = None,
) -> TriggerRule:
    rule = await require_trigger_rule(scope, rule_id)
    changes: dict[str, Any] = {}
    if template_id is not None:
        changes["template_id"] = (await require_template(scope, template_id, "templateId")).id
    if purpose is not None:
        changes["purpose"] = purpose
    if delay_minutes is not None:
        _check_rule(rule.event, delay_minutes)
        changes["delay_minutes"] = delay_minutes
    if active is not None:
        changes["active"] = active
    if changes:
        from tessera.channels import triggers

        async with unit_of_work(scope) as uow:
            await trigger_rules(scope).using_db(uow.connection).filter(id=rule.id).update(**changes)
        triggers.forget(scope.brand_id)
    return await require_trigger_rule(scope, rule.id)


async def delete_trigger_rule(scope: BrandScope, rule_id: int) -> None:
    rule = await require_trigger_rule(scope, rule_id)
    async with unit_of_work(scope) as uow:
        await trigger_rules(scope).using_db(uow.connection).filter(id=rule.id).delete()


async def member_exists(scope: BrandScope, member_id: int) -> bool:
    return bool(await scope.query(Member).filter(id=member_id).exists())
