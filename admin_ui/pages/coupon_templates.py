"""Coupon templates: the list with stock and usage, and the form that creates,
changes and deletes one through the service ``createCouponTemplate``,
``updateCouponTemplate`` and ``deleteCouponTemplate`` call (manage scope),
audited under their names. Retiring a template is unticking "active"."""

from __future__ import annotations

from datetime import date
from typing import Any

from starlette.datastructures import FormData
from starlette.responses import Response
from tortoise.functions import Count

from tessera.admin_ui.context import Ctx, version_of
from tessera.admin_ui.i18n import N_
from tessera.admin_ui.pages.loyalty import CONFIRM_DELETE, by_input, typed_of, whole
from tessera.admin_ui.registry import page
from tessera.auth.scopes import Scope
from tessera.coupons import templates as service
from tessera.coupons.models import Coupon, CouponTemplate
from tessera.coupons.templates import CouponKind
from tessera.errors import DomainError
from tessera.orders.money import MoneyAmount, from_minor

NOT_A_DATE = N_("must be a date like 2026-03-01")
# Form field (the API's input name) -> template column.
MONEY = {"amountOff": "amount_off", "maxDiscount": "max_discount", "minSpend": "min_spend"}
WHOLE = {
    "percentOff": "percent_off",
    "validDays": "valid_days",
    "totalStock": "total_stock",
    "perMemberLimit": "per_member_limit",
}
DATES = {"validFrom": "valid_from_date", "validUntil": "valid_until_date"}
# Kinds as stored -> the msgid shown.
KIND_LABELS = {
    CouponKind.AMOUNT_OFF.value: N_("Amount off"),
    CouponKind.PERCENT_OFF.value: N_("Percent off"),
    CouponKind.GIFT.value: N_("Gift"),
    CouponKind.FREE_SHIPPING.value: N_("Free shipping"),
}


def _state(template: CouponTemplate) -> dict[str, Any]:
    return {column: getattr(template, column) for column in service.FIELDS}


def _version(template: CouponTemplate | None) -> str:
    return version_of(_state(template)) if template else ""


def _shown(template: CouponTemplate, currency: str) -> dict[str, Any]:
    values: dict[str, Any] = {
        "kind": template.kind,
        "title": template.title,
        "description": template.description,
        "giftSku": template.gift_sku or "",
        "categories": ", ".join(template.categories),
        "active": "on" if template.active else "",
    }
    for name, column in MONEY.items():
        minor = getattr(template, column)
        values[name] = "" if minor is None else str(from_minor(minor, currency))
    for name, column in WHOLE.items():
        number = getattr(template, column)
        values[name] = "" if number is None else str(number)
    for name, column in DATES.items():
        day = getattr(template, column)
        values[name] = "" if day is None else day.isoformat()
    return values


def _from_form(
    ctx: Ctx, form: FormData, currency: str
) -> tuple[dict[str, Any], dict[str, list[str]]]:
    """The template's columns as the mutations pass them to the service (money
    as typed, converted and checked there), and what could not be read."""
    problems: dict[str, list[str]] = {}
    values: dict[str, Any] = {
        "kind": str(form.get("kind", "")),
        "title": str(form.get("title", "")),
        "description": str(form.get("description", "")),
        "gift_sku": str(form.get("giftSku", "")).strip() or None,
        "categories": [c.strip() for c in str(form.get("categories", "")).split(",") if c.strip()],
        "active": form.get("active") == "on",
    }
    for name, column in MONEY.items():
        raw = str(form.get(name, "")).strip()
        values[column] = MoneyAmount(raw, currency) if raw else None
    for name, column in WHOLE.items():
        values[column] = whole(form, name, problems, ctx)
    for name, column in DATES.items():
        raw = str(form.get(name, "")).strip()
        try:
            values[column] = date.fromisoformat(raw) if raw else None
        except ValueError:
            problems.setdefault(name, []).append(ctx.gettext(NOT_A_DATE))
    return values, problems


async def _redeemed(ctx: Ctx, template_ids: list[int]) -> dict[int, int]:
    """Coupons redeemed per template, in one query."""
    if not template_ids:
        return {}
    return dict(
        await ctx.scope.query(Coupon)
        .filter(template_id__in=template_ids, status="redeemed")
        .annotate(n=Count("id"))
        .group_by("template_id")
        .values_list("template_id", "n")
    )


@page(
    "/coupon-templates",
    "coupon_templates",
    permission=Scope.READ,
    title=N_("Coupon templates"),
    nav_group="Loyalty",
)
async def coupon_templates(ctx: Ctx) -> Response:
    rows = list(await ctx.scope.query(CouponTemplate).order_by("-id"))
    return ctx.render(
        "coupon_templates.html",
        title=N_("Coupon templates"),
        templates=rows,
        redeemed=await _redeemed(ctx, [t.id for t in rows]),
        kinds=KIND_LABELS,
        can_manage=ctx.can(Scope.MANAGE),
    )


async def _form(
    ctx: Ctx,
    template: CouponTemplate | None,
    status: int = 200,
    errors: dict[str, list[str]] | None = None,
    typed: dict[str, Any] | None = None,
) -> Response:
    currency = ctx.scope.brand.currency
    if typed is not None:
        values = typed
    elif template is not None:
        values = _shown(template, currency)
    else:
        values = {"kind": CouponKind.AMOUNT_OFF.value, "active": "on"}
    return ctx.render(
        "coupon_template.html",
        status=status,
        title=N_("Coupon templates"),
        tmpl=template,
        redeemed=(await _redeemed(ctx, [template.id])).get(template.id, 0) if template else 0,
        values=values,
        kinds=KIND_LABELS,
        currency=currency,
        version=_version(template),
        errors=errors or {},
        can_manage=ctx.can(Scope.MANAGE),
    )


@page("/coupon-templates/new", "coupon_template_new", permission=Scope.MANAGE)
async def template_new(ctx: Ctx) -> Response:
    return await _form(ctx, None)


@page("/coupon-templates", "coupon_template_create", permission=Scope.MANAGE, methods=("POST",))
async def template_create(ctx: Ctx) -> Response:
    """Like ``createCouponTemplate`` (manage scope)."""
    form = await ctx.form()
    typed = typed_of(form)
    values, problems = _from_form(ctx, form, ctx.scope.brand.currency)
    if problems:
        return await _form(ctx, None, 422, problems, typed)
    try:
        async with ctx.once(str(form.get("idempotency_key", ""))) as first:
            if not first:
                ctx.replayed()
                return ctx.redirect(ctx.url("coupon_templates"))
            created = await ctx.audited(
                "createCouponTemplate",
                {"kind": values["kind"], "title": values["title"]},
                lambda: service.create_template(ctx.scope, values),
            )
    except DomainError as error:
        return await _form(ctx, None, 422, by_input(error), typed)
    return ctx.redirect(
        ctx.url("coupon_template", template_id=created.id), ctx.gettext("Coupon template created.")
    )


@page("/coupon-templates/{template_id}", "coupon_template", permission=Scope.READ)
async def template_page(ctx: Ctx) -> Response:
    template = await ctx.row(CouponTemplate, "template_id")
    if template is None:
        return ctx.not_found()
    return await _form(ctx, template)


@page(
    "/coupon-templates/{template_id}",
    "coupon_template_save",
    permission=Scope.MANAGE,
    methods=("POST",),
)
async def template_save(ctx: Ctx) -> Response:
    """Like ``updateCouponTemplate`` with every field of the form (manage scope):
    terms are refused once coupons were issued, stock never below what was."""
    template = await ctx.row(CouponTemplate, "template_id")
    if template is None:
        return ctx.not_found()
    form = await ctx.form()
    typed = typed_of(form)
    if await ctx.stale(_version(template)):
        return await _form(ctx, template, 409, ctx.stale_errors())
    values, problems = _from_form(ctx, form, ctx.scope.brand.currency)
    if problems:
        return await _form(ctx, template, 422, problems, typed)
    try:
        await ctx.audited(
            "updateCouponTemplate",
            {"id": template.id, "title": values["title"], "active": values["active"]},
            lambda: service.update_template(ctx.scope, template.id, values),
        )
    except DomainError as error:
        return await _form(ctx, template, 422, by_input(error), typed)
    return ctx.redirect(ctx.url("coupon_template", template_id=template.id), ctx.gettext("Saved."))


@page(
    "/coupon-templates/{template_id}/delete",
    "coupon_template_delete",
    permission=Scope.MANAGE,
    methods=("POST",),
)
async def template_delete(ctx: Ctx) -> Response:
    """Like ``deleteCouponTemplate`` (manage scope), after the confirmation box
    is ticked; a template coupons were issued from is refused (retire it)."""
    template = await ctx.row(CouponTemplate, "template_id")
    if template is None:
        return ctx.not_found()
    form = await ctx.form()
    if form.get("confirm") != "on":
        return await _form(ctx, template, 422, {"confirm": [ctx.gettext(CONFIRM_DELETE)]})
    try:
        await ctx.audited(
            "deleteCouponTemplate",
            {"id": template.id},
            lambda: service.delete_template(ctx.scope, template.id),
        )
    except DomainError as error:
        return await _form(ctx, template, 422, {"confirm": by_input(error).get("id", [])})
    return ctx.redirect(ctx.url("coupon_templates"), ctx.gettext("Coupon template deleted."))
