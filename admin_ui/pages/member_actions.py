"""Support actions on one member beyond tags and points: edit the profile
(``updateMember``), stored value (``topUpStoredValue`` / ``spendStoredValue``),
issue a coupon (``issueCoupon``) and a member token (``issueMemberToken``),
each through the service, scope and audit name its GraphQL mutation uses.

Stored value has no correction of its own in the API: a positive amount is a
top-up and a negative one a spend, both the write scope, as through GraphQL.
The form asks for a reason because an operator's change should say why.

``updateMember`` and ``issueMemberToken`` take no idempotency key in the
API, so their forms carry one of their own (``Ctx.once``): the same form sent
again, even at the same moment, is answered as a replay and changes nothing
twice."""

from __future__ import annotations

import re
from datetime import date
from typing import Any

from starlette.responses import Response

from tessera.admin_ui.context import Ctx, errors_of, shown_once, version_of
from tessera.admin_ui.i18n import N_
from tessera.admin_ui.pages.members import profile_page
from tessera.admin_ui.registry import page
from tessera.assets import service as assets
from tessera.auth.member_tokens import DEFAULT_TTL, issue_member_token
from tessera.auth.scopes import Scope
from tessera.coupons.service import issue_coupon
from tessera.errors import DomainError, DomainErrors
from tessera.idempotency import from_caller
from tessera.members import pii
from tessera.members import service as members
from tessera.members.attributes import list_definitions
from tessera.members.models import AttributeDefinition, Member
from tessera.members.profile import Gender, MemberStatus, camel
from tessera.orders.money import MoneyAmount, to_minor

# The profile fields the edit form shows, as ``updateMember`` names them
# (camelCase: the service's field errors use these names).
TEXT_FIELDS = (
    "name",
    "phone",
    "email",
    "externalId",
    "province",
    "city",
    "education",
    "occupation",
    "incomeRange",
    "joinChannel",
    "joinSource",
)
# msgids of the labels the edit form shows for each profile field.
LABELS = {
    "name": N_("Name"),
    "phone": N_("Phone"),
    "email": N_("Email"),
    "externalId": N_("External id"),
    "province": N_("Province"),
    "city": N_("City"),
    "education": N_("Education"),
    "occupation": N_("Occupation"),
    "incomeRange": N_("Income range"),
    "joinChannel": N_("Join channel"),
    "joinSource": N_("Join source"),
}
# Identity values the form shows masked to a user without the pii permission.
PERSONAL_FIELDS = ("phone", "email")
GENDERS = (N_("unknown"), N_("female"), N_("male"), N_("other"))
# Stored values the profile shows through the catalog (attribute types, tier
# change reasons, ledger entry types not listed in tessera.admin_ui.i18n).
SHOWN_VALUES = (
    N_("string"),
    N_("number"),
    N_("boolean"),
    N_("date"),
    N_("enum"),
    N_("upgrade"),
    N_("downgrade"),
    N_("renewed"),
    N_("reactivated"),
    N_("top_up"),
    N_("spend"),
    N_("pending"),
    N_("release"),
    N_("cancel"),
)


def _snake(name: str) -> str:
    return "".join(f"_{c.lower()}" if c.isupper() else c for c in name)


async def _form_text(ctx: Ctx, name: str) -> str:
    return str((await ctx.form()).get(name, ""))


# --- edit profile -------------------------------------------------------------


def _shown(ctx: Ctx, member: Member, definitions: list[AttributeDefinition]) -> dict[str, str]:
    """The form's values for what is stored (phone and email masked without
    the pii permission: left as shown, they are left unchanged)."""
    values = {name: str(getattr(member, _snake(name)) or "") for name in TEXT_FIELDS}
    for name in PERSONAL_FIELDS:
        values[name] = ctx.shown(member.id, name, values[name] or None) or ""
    values["gender"] = member.gender
    values["birthday"] = member.birthday.isoformat() if member.birthday else ""
    values["interests"] = ", ".join(member.interests or [])
    values["status"] = member.status
    for d in definitions:
        value = member.attributes.get(d.key)
        values[f"attr.{d.key}"] = (
            "" if value is None else str(value).lower() if isinstance(value, bool) else str(value)
        )
    return values


def _version(member: Member) -> str:
    shown = {name: getattr(member, _snake(name)) for name in TEXT_FIELDS}
    return version_of(
        shown, member.gender, member.birthday, member.interests, member.status, member.attributes
    )


def _attribute(definition: AttributeDefinition, raw: str) -> Any:
    """What was typed, as the JSON value ``updateMember`` takes: a number or a
    boolean when it reads as one, else the text (so the service's own check
    refuses it beside the field); empty removes the value."""
    text = raw.strip()
    if not text:
        return None
    if definition.type == "number":
        for kind in (int, float):
            try:
                return kind(text)
            except ValueError:
                pass
    if definition.type == "boolean" and text in ("true", "false"):
        return text == "true"
    return text


def _changes(
    form: Any, definitions: list[AttributeDefinition]
) -> tuple[dict[str, Any], dict[str, Any], MemberStatus | None, dict[str, list[str]]]:
    """The profile, attributes and status the form asks for, and the fields
    that could not be read as their type."""
    profile: dict[str, Any] = {}
    errors: dict[str, list[str]] = {}
    for name in TEXT_FIELDS:
        profile[_snake(name)] = str(form.get(name, "")).strip() or None
    profile["gender"] = str(form.get("gender", "")) or Gender.UNKNOWN.value
    birthday = str(form.get("birthday", "")).strip()
    try:
        profile["birthday"] = date.fromisoformat(birthday) if birthday else None
    except ValueError:
        errors["birthday"] = ["a date as YYYY-MM-DD"]
    interests = str(form.get("interests", ""))
    # Either comma: Chinese keyboards type the full-width one.
    profile["interests"] = [i.strip() for i in re.split("[,，]", interests) if i.strip()]
    attributes = {d.key: _attribute(d, str(form.get(f"attr.{d.key}", ""))) for d in definitions}
    try:
        status: MemberStatus | None = MemberStatus(str(form.get("status", "")))
    except ValueError:
        status, errors["status"] = None, ["unknown status"]
    return profile, attributes, status, errors


def _on_form(error: DomainError, names: dict[str, str]) -> dict[str, list[str]]:
    """A refusal's messages by the form field the service's field stands for
    (``names``: service field -> form field); any other goes to the form as a
    whole."""
    found: dict[str, list[str]] = {}
    for name, messages in errors_of(error).items():
        found.setdefault(names.get(name, ""), []).extend(messages)
    return found


def _edit_errors(error: DomainError) -> dict[str, list[str]]:
    """Messages by form field: ``["attributes", key]`` is ``attr.key``."""
    found: dict[str, list[str]] = {}
    for one in error.errors if isinstance(error, DomainErrors) else [error]:
        path = [str(p) for p in one.field or []]
        if len(path) > 1 and path[0] == "attributes":
            name = f"attr.{path[1]}"
        else:
            name = path[-1] if path and path[-1] in FORM_NAMES else ""
        found.setdefault(name, []).append(one.message)
    return found


FORM_NAMES = {*TEXT_FIELDS, "gender", "birthday", "interests", "status"}


async def _edit_form(
    ctx: Ctx,
    member: Member,
    status: int = 200,
    errors: dict[str, list[str]] | None = None,
    typed: dict[str, str] | None = None,
) -> Response:
    definitions = await list_definitions(ctx.scope)
    page = ctx.render(
        "member_edit.html",
        status=status,
        title=N_("Edit profile"),
        member=member,
        definitions=definitions,
        text_fields=[(name, LABELS[name]) for name in TEXT_FIELDS],
        genders=GENDERS,
        # Erasure has its own page (privacy): no edit makes a member erased.
        statuses=[s.value for s in MemberStatus if s is not MemberStatus.ERASED],
        values=typed if typed is not None else _shown(ctx, member, definitions),
        version=_version(member),
        errors=errors or {},
    )
    await ctx.audit_personal_reads()
    return page


@page("/members/{member_id}/edit", "member_edit", permission=Scope.WRITE)
async def edit_member(ctx: Ctx) -> Response:
    member = await ctx.row(Member, "member_id")
    if member is None:
        return ctx.not_found()
    return await _edit_form(ctx, member)


@page("/members/{member_id}/edit", "member_save", permission=Scope.WRITE, methods=("POST",))
async def save_member(ctx: Ctx) -> Response:
    """Like ``updateMember`` (write scope), refused when the form is older than
    the stored profile."""
    member = await ctx.row(Member, "member_id")
    if member is None:
        return ctx.not_found()
    form = await ctx.form()
    definitions = await list_definitions(ctx.scope)
    typed = {k: str(v) for k, v in form.items() if k not in ("csrf_token", "idempotency_key")}
    async with ctx.once(str(form.get("idempotency_key", "")).strip()) as first:
        if not first:
            ctx.replayed()
            return ctx.redirect(ctx.url("member", member_id=member.id))
        if await ctx.stale(_version(member)):
            return await _edit_form(ctx, member, 409, ctx.stale_errors())
        profile, attributes, status, errors = _changes(form, definitions)
        for name in PERSONAL_FIELDS:
            if not ctx.can(Scope.PII) and profile[name] == pii.mask(name, getattr(member, name)):
                del profile[name]  # the masked value, sent back as shown
        if errors:
            return await _edit_form(ctx, member, 422, errors, typed)
        try:
            await ctx.audited(
                "updateMember",
                {
                    "id": member.id,
                    "fields": sorted(camel(k) for k in profile),
                    "attributes": sorted(attributes),
                },
                lambda: members.update_member(
                    ctx.scope, member.id, profile, attributes=attributes or None, status=status
                ),
            )
        except DomainError as error:
            return await _edit_form(ctx, member, 422, _edit_errors(error), typed)
    return ctx.redirect(ctx.url("member", member_id=member.id), ctx.gettext("Profile saved."))


# --- stored value -------------------------------------------------------------


@page(
    "/members/{member_id}/stored-value",
    "member_stored_value",
    permission=Scope.WRITE,
    methods=("POST",),
)
async def change_stored_value(ctx: Ctx) -> Response:
    """A signed amount: positive is ``topUpStoredValue``, negative
    ``spendStoredValue`` (both the write scope), with a required reason; the
    form's idempotency key makes a double submit a replay."""
    member = await ctx.row(Member, "member_id")
    if member is None:
        return ctx.not_found()
    form = await ctx.form()
    raw = str(form.get("amount", "")).strip()
    reason = str(form.get("sv_reason", ""))
    key = str(form.get("idempotency_key", "")).strip()
    typed = {"amount": raw, "sv_reason": reason}
    currency = ctx.scope.brand.currency
    spend = raw.startswith("-")
    action = "spendStoredValue" if spend else "topUpStoredValue"
    write = assets.spend_stored_value if spend else assets.top_up_stored_value
    try:
        errors: list[DomainError] = []
        if not reason.strip():
            errors.append(
                DomainError("REQUIRED", "say why the stored value changes", ["sv_reason"])
            )
        amount = 0
        try:
            amount = to_minor(MoneyAmount(raw.removeprefix("-"), currency), currency, ["amount"])
        except DomainError as error:
            errors.append(error)
        if errors:
            raise DomainErrors(errors)
        details = {"memberId": member.id, "amount": raw, "reason": reason, "idempotencyKey": key}
        result = await ctx.audited(
            action,
            details,
            lambda: write(
                ctx.scope,
                member.id,
                amount,
                idempotency_key=from_caller(key),
                reason=reason.strip(),
                source_type="admin",
            ),
        )
    except DomainError as error:
        messages = _on_form(
            error, {"amount": "amount", "reason": "sv_reason", "sv_reason": "sv_reason"}
        )
        return await profile_page(ctx, member, 422, messages, typed, form="stored_value")
    if result.replayed:
        ctx.replayed()
    else:
        ctx.flash(ctx.gettext("Stored value changed."))
    return ctx.redirect(ctx.url("member", member_id=member.id))


# --- coupon -------------------------------------------------------------------


@page("/members/{member_id}/coupons", "member_coupon", permission=Scope.WRITE, methods=("POST",))
async def give_coupon(ctx: Ctx) -> Response:
    """Like ``issueCoupon`` (write scope); the form's idempotency key is the
    coupon's, so a double submit returns the first coupon."""
    member = await ctx.row(Member, "member_id")
    if member is None:
        return ctx.not_found()
    form = await ctx.form()
    raw = str(form.get("templateId", "")).strip()
    key = str(form.get("idempotency_key", "")).strip()
    template_id = int(raw) if raw.isdigit() else None
    try:
        coupon = await ctx.audited(
            "issueCoupon",
            {"templateId": raw, "memberId": member.id, "idempotencyKey": key},
            lambda: issue_coupon(
                ctx.scope,
                template_id=template_id,
                member_id=member.id,
                idempotency_key=from_caller(key),
            ),
        )
    except DomainError as error:
        messages = _on_form(error, {"templateId": "templateId"})
        return await profile_page(ctx, member, 422, messages, {"templateId": raw}, form="coupon")
    return ctx.redirect(
        ctx.url("member", member_id=member.id), ctx.gettext("Coupon issued:") + " " + coupon.code
    )


# --- member token -------------------------------------------------------------


@page("/members/{member_id}/token", "member_token", permission=Scope.WRITE, methods=("POST",))
async def member_token(ctx: Ctx) -> Response:
    """Like ``issueMemberToken`` (write scope): the token is in this response
    only, never in a redirect, the session, a log or the audit entry."""
    member = await ctx.row(Member, "member_id")
    if member is None:
        return ctx.not_found()
    key = (await _form_text(ctx, "idempotency_key")).strip()
    raw = (await _form_text(ctx, "ttlSeconds")).strip() or str(DEFAULT_TTL)
    async with ctx.once(key) as first:
        if not first:
            ctx.flash(
                ctx.gettext("A token was issued from this form already; it is shown only once."),
                "warning",
            )
            return ctx.redirect(ctx.url("member", member_id=member.id))
        try:
            if not raw.isdigit():
                raise DomainError("INVALID", "a whole number of seconds", ["ttlSeconds"])
            ttl = int(raw)
            issued = await ctx.audited(
                "issueMemberToken",
                {"memberId": member.id, "ttlSeconds": ttl},
                lambda: _issue(ctx, member.id, ttl),
            )
        except DomainError as error:
            messages = _on_form(error, {"ttlSeconds": "ttlSeconds"})
            return await profile_page(ctx, member, 422, messages, {"ttlSeconds": raw}, form="token")
    return shown_once(await profile_page(ctx, member, token=issued))


async def _issue(ctx: Ctx, member_id: int, ttl: int) -> Any:
    # As the mutation does: the member read through the brand scope, then the token.
    member = await members.require_member(ctx.scope, member_id, "memberId")
    return issue_member_token(ctx.scope, member, ttl)
