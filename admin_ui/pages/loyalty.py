"""Loyalty: tier definitions and the points policy. Every change calls the
service its GraphQL mutation calls (``createTier``, ``updateTier``,
``deleteTier``, ``setPointsPolicy``; manage scope) and is audited under that
mutation's name; the tier policy and the points rules are plugin features,
configured on their own settings pages."""

from __future__ import annotations

import re
from dataclasses import asdict, dataclass
from typing import Any, get_args

from pydantic import BaseModel
from starlette.datastructures import FormData
from starlette.responses import Response
from tortoise.functions import Count

from tessera import runtime
from tessera.admin_ui.context import Ctx, version_of
from tessera.admin_ui.i18n import N_
from tessera.admin_ui.registry import page
from tessera.assets.policy import ExpiryMode, NegativeBalance, get_policy, set_policy
from tessera.auth.scopes import Scope
from tessera.coupons.models import CouponTemplate
from tessera.errors import DomainError, DomainErrors
from tessera.features.service import FeatureView, list_features
from tessera.plugin_host.components import ComponentFamily
from tessera.plugin_host.manager import RegisteredComponent
from tessera.tiers import definitions
from tessera.tiers.benefits import Benefit
from tessera.tiers.models import MemberTierState, TierDefinition

# The benefit models, one per kind, in the order the form shows them.
BENEFIT_MODELS: tuple[type[BaseModel], ...] = get_args(get_args(Benefit)[0])
# Msgids of the benefit kinds and their fields (the model's names are code).
BENEFIT_LABELS = {
    "member_price": N_("Member price"),
    "free_shipping": N_("Free shipping"),
    "free_returns": N_("Free returns"),
    "early_access": N_("Early access"),
    "birthday_gift": N_("Birthday gift"),
    "member_day": N_("Member day"),
    "anniversary_gift": N_("Anniversary gift"),
    "percent_off": N_("Percent off"),
    "per_month": N_("Times per month (empty: unlimited)"),
    "within_days": N_("Within days"),
    "hours_ahead": N_("Hours ahead"),
    "points": N_("Points"),
    "coupon_template_id": N_("Coupon template"),
    "day_of_month": N_("Day of the month"),
    "points_multiplier": N_("Points multiplier"),
}
# The points policy's choices as the form shows them (msgids).
EXPIRY_MODES = {
    ExpiryMode.NEVER.value: N_("Points never expire"),
    ExpiryMode.ROLLING_MONTHS.value: N_("Rolling months"),
    ExpiryMode.CALENDAR_YEARS.value: N_("Calendar years"),
}
NEGATIVE_BALANCES = {
    NegativeBalance.ALLOW_NEGATIVE.value: N_("Allow a negative balance"),
    NegativeBalance.CAP_AT_ZERO.value: N_("Take at most the balance"),
}
# Ledger entry types the lookup shows through the catalog (the others are in
# tessera.admin_ui.i18n.VALUE_LABELS), listed so extraction finds them.
ENTRY_TYPES = (N_("pending"), N_("release"), N_("cancel"), N_("top_up"), N_("spend"))
NOT_A_WHOLE_NUMBER = N_("must be a whole number")
CONFIRM_DELETE = N_("Tick the box to confirm.")


@dataclass(frozen=True)
class BenefitField:
    name: str
    label: str
    low: Any
    high: Any
    is_template: bool


@dataclass(frozen=True)
class BenefitKind:
    kind: str
    label: str
    fields: list[BenefitField]


def _bound(info: Any, name: str) -> Any:
    return next((getattr(m, name) for m in info.metadata if hasattr(m, name)), None)


def benefit_kinds() -> list[BenefitKind]:
    """The benefit kinds with their fields, from the models the service
    validates with, so a new kind or field appears in the form by itself."""
    kinds = []
    for model in BENEFIT_MODELS:
        kind = model.model_fields["kind"].default
        fields = [
            BenefitField(
                name,
                BENEFIT_LABELS.get(name, name),
                _bound(info, "ge"),
                _bound(info, "le"),
                name == "coupon_template_id",
            )
            for name, info in model.model_fields.items()
            if name != "kind"
        ]
        kinds.append(BenefitKind(kind, BENEFIT_LABELS.get(kind, kind), fields))
    return kinds


# --- form values ------------------------------------------------------------


def whole(
    form: FormData, name: str, problems: dict[str, list[str]], ctx: Ctx, empty: Any = None
) -> Any:
    """The whole number typed in ``name``; ``empty`` when left blank. Typed
    text that is no number is named in ``problems`` (the API's inputs are typed,
    so the services expect numbers)."""
    raw = str(form.get(name, "")).strip()
    if not raw:
        return empty
    try:
        return int(raw)
    except ValueError:
        problems.setdefault(name, []).append(ctx.gettext(NOT_A_WHOLE_NUMBER))
        return None


def typed_of(form: FormData, lists: tuple[str, ...] = ()) -> dict[str, Any]:
    """What the user typed, to show again after a refusal."""
    skip = {"csrf_token", "form_version", "idempotency_key"}
    typed: dict[str, Any] = {k: str(v) for k, v in form.items() if k not in skip}
    for name in lists:
        typed[name] = [str(v) for v in form.getlist(name)]
    return typed


def _snake(name: str) -> str:
    return re.sub(r"([A-Z])", r"_\1", name).lower()


def by_input(error: DomainError, benefits_sent: list[str] | None = None) -> dict[str, list[str]]:
    """A refusal's messages by the form field of the input it names (the first
    part of the path: the form fields carry the API's input names); a benefit
    item's problem goes to the field of its kind in the form."""
    found: dict[str, list[str]] = {}
    for one in error.errors if isinstance(error, DomainErrors) else [error]:
        path = [str(p) for p in one.field or []]
        name = path[0] if path else ""
        if name == "benefits" and benefits_sent and len(path) > 1 and path[1].isdigit():
            index = int(path[1])
            if index < len(benefits_sent):
                name = f"benefit.{benefits_sent[index]}"
                if len(path) > 2:
                    name += f".{_snake(path[2])}"
        found.setdefault(name, []).append(one.message)
    return found


# --- tiers --------------------------------------------------------------------


def _tier_state(tier: TierDefinition) -> dict[str, Any]:
    return {column: getattr(tier, column) for column in definitions.FIELDS}


def _tier_version(tier: TierDefinition | None) -> str:
    return version_of(_tier_state(tier)) if tier else ""


def _tier_shown(tier: TierDefinition) -> dict[str, Any]:
    values: dict[str, Any] = {
        "code": tier.code,
        "name": tier.name,
        "rank": str(tier.rank),
        "giftPoints": str(tier.gift_points),
        "validityMonths": "" if tier.validity_months is None else str(tier.validity_months),
        "giftCouponTemplateIds": [str(i) for i in tier.gift_coupon_template_ids],
    }
    for item in tier.benefits:
        values[f"benefit.{item['kind']}"] = "on"
        for name, value in item.items():
            if name != "kind" and value is not None:
                values[f"benefit.{item['kind']}.{name}"] = str(value)
    return values


def _tier_from_form(
    ctx: Ctx, form: FormData
) -> tuple[dict[str, Any], list[str], dict[str, list[str]]]:
    """The tier's columns as ``createTier``/``updateTier`` pass them to the
    service, the benefit kinds in the order sent, and what could not be read."""
    problems: dict[str, list[str]] = {}
    benefits: list[dict[str, Any]] = []
    for kind in benefit_kinds():
        if form.get(f"benefit.{kind.kind}") != "on":
            continue
        item: dict[str, Any] = {"kind": kind.kind}
        for field in kind.fields:
            # Text as typed: the benefit models convert and range-check it.
            raw = str(form.get(f"benefit.{kind.kind}.{field.name}", "")).strip()
            if raw:
                item[field.name] = raw
        benefits.append(item)
    values = {
        "code": str(form.get("code", "")),
        "name": str(form.get("name", "")),
        "rank": whole(form, "rank", problems, ctx),
        "benefits": benefits,
        "gift_points": whole(form, "giftPoints", problems, ctx, empty=0),
        "gift_coupon_template_ids": [
            int(str(v)) for v in form.getlist("giftCouponTemplateIds") if str(v).isdigit()
        ],
        "validity_months": whole(form, "validityMonths", problems, ctx),
    }
    return values, [b["kind"] for b in benefits], problems


async def _templates(ctx: Ctx) -> list[CouponTemplate]:
    return list(await ctx.scope.query(CouponTemplate).order_by("-id"))


async def _components(ctx: Ctx, family: ComponentFamily) -> list[tuple[Any, FeatureView | None]]:
    """The installed components of ``family`` with the brand's feature of each."""
    features = {
        v.feature.component_key: v
        for v in await list_features(ctx.scope, family)
        if not v.feature.instance
    }
    registered: list[RegisteredComponent] = [
        r for r in runtime.current().host.components() if r.cls.family is family
    ]
    return [(r.cls, features.get(r.cls.key)) for r in registered]


@page("/tiers", "tiers", permission=Scope.READ, title=N_("Tiers"), nav_group="Loyalty")
async def tiers(ctx: Ctx) -> Response:
    scope = ctx.scope
    counts = dict(
        await scope.query(MemberTierState)
        .filter(tier_id__isnull=False)
        .annotate(n=Count("member_id"))
        .group_by("tier_id")
        .values_list("tier_id", "n")
    )
    policies = await _components(ctx, ComponentFamily.TIER_POLICY)
    return ctx.render(
        "tiers.html",
        title=N_("Tiers"),
        tiers=await definitions.list_tiers(scope),
        counts=counts,
        policies=policies,
        active=[cls for cls, view in policies if view and view.feature.enabled],
        labels=BENEFIT_LABELS,
        can_manage=ctx.can(Scope.MANAGE),
    )


async def _tier_form(
    ctx: Ctx,
    tier: TierDefinition | None,
    status: int = 200,
    errors: dict[str, list[str]] | None = None,
    typed: dict[str, Any] | None = None,
) -> Response:
    values = typed if typed is not None else (_tier_shown(tier) if tier else {"giftPoints": "0"})
    return ctx.render(
        "tier.html",
        status=status,
        title=N_("Tiers"),
        tier=tier,
        values=values,
        kinds=benefit_kinds(),
        templates=await _templates(ctx),
        version=_tier_version(tier),
        errors=errors or {},
        members=(
            await ctx.scope.query(MemberTierState).filter(tier_id=tier.id).count() if tier else 0
        ),
        can_manage=ctx.can(Scope.MANAGE),
    )


@page("/tiers/new", "tier_new", permission=Scope.MANAGE)
async def tier_new(ctx: Ctx) -> Response:
    return await _tier_form(ctx, None)


@page("/tiers", "tier_create", permission=Scope.MANAGE, methods=("POST",))
async def tier_create(ctx: Ctx) -> Response:
    """Like ``createTier`` (manage scope)."""
    form = await ctx.form()
    typed = typed_of(form, ("giftCouponTemplateIds",))
    values, sent, problems = _tier_from_form(ctx, form)
    if problems:
        return await _tier_form(ctx, None, 422, problems, typed)
    try:
        tier = await ctx.audited(
            "createTier",
            {"code": values["code"], "name": values["name"], "rank": values["rank"]},
            lambda: definitions.create_tier(ctx.scope, values),
        )
    except DomainError as error:
        return await _tier_form(ctx, None, 422, by_input(error, sent), typed)
    return ctx.redirect(ctx.url("tier", tier_id=tier.id), ctx.gettext("Tier created."))


@page("/tiers/{tier_id}", "tier", permission=Scope.READ)
async def tier_page(ctx: Ctx) -> Response:
    tier = await ctx.row(TierDefinition, "tier_id")
    if tier is None:
        return ctx.not_found()
    return await _tier_form(ctx, tier)


@page("/tiers/{tier_id}", "tier_save", permission=Scope.MANAGE, methods=("POST",))
async def tier_save(ctx: Ctx) -> Response:
    """Like ``updateTier`` with every field of the form (manage scope)."""
    tier = await ctx.row(TierDefinition, "tier_id")
    if tier is None:
        return ctx.not_found()
    form = await ctx.form()
    typed = typed_of(form, ("giftCouponTemplateIds",))
    if await ctx.stale(_tier_version(tier)):
        return await _tier_form(ctx, tier, 409, ctx.stale_errors())
    values, sent, problems = _tier_from_form(ctx, form)
    if problems:
        return await _tier_form(ctx, tier, 422, problems, typed)
    try:
        await ctx.audited(
            "updateTier",
            {"id": tier.id, "code": values["code"], "name": values["name"]},
            lambda: definitions.update_tier(ctx.scope, tier.id, values),
        )
    except DomainError as error:
        return await _tier_form(ctx, tier, 422, by_input(error, sent), typed)
    return ctx.redirect(ctx.url("tier", tier_id=tier.id), ctx.gettext("Saved."))


@page("/tiers/{tier_id}/delete", "tier_delete", permission=Scope.MANAGE, methods=("POST",))
async def tier_delete(ctx: Ctx) -> Response:
    """Like ``deleteTier`` (manage scope), after the confirmation box is ticked."""
    tier = await ctx.row(TierDefinition, "tier_id")
    if tier is None:
        return ctx.not_found()
    form = await ctx.form()
    if form.get("confirm") != "on":
        return await _tier_form(ctx, tier, 422, {"confirm": [ctx.gettext(CONFIRM_DELETE)]})
    try:
        await ctx.audited(
            "deleteTier", {"id": tier.id}, lambda: definitions.delete_tier(ctx.scope, tier.id)
        )
    except DomainError as error:
        return await _tier_form(ctx, tier, 422, {"confirm": by_input(error).get("id", [])})
    return ctx.redirect(ctx.url("tiers"), ctx.gettext("Tier deleted."))


# --- the points policy ----------------------------------------------------------

POLICY_FIELDS = (
    "expiryMode",
    "expiryMonths",
    "expiryYears",
    "pendingDays",
    "negativeBalance",
    "expiringSoonDays",
)


def _policy_shown(values: Any) -> dict[str, str]:
    return {
        "expiryMode": str(values.expiry_mode),
        "expiryMonths": str(values.expiry_months),
        "expiryYears": str(values.expiry_years),
        "pendingDays": str(values.pending_days),
        "negativeBalance": str(values.negative_balance),
        "expiringSoonDays": str(values.expiring_soon_days),
    }


async def _policy_form(
    ctx: Ctx,
    status: int = 200,
    errors: dict[str, list[str]] | None = None,
    typed: dict[str, Any] | None = None,
) -> Response:
    current = await get_policy(ctx.scope)
    return ctx.render(
        "points_policy.html",
        status=status,
        title=N_("Points policy"),
        values=typed if typed is not None else _policy_shown(current),
        version=version_of(asdict(current)),
        expiry_modes=EXPIRY_MODES,
        negative_balances=NEGATIVE_BALANCES,
        rules=await _components(ctx, ComponentFamily.POINTS_RULE),
        errors=errors or {},
        can_manage=ctx.can(Scope.MANAGE),
    )


@page(
    "/points-policy",
    "points_policy",
    permission=Scope.READ,
    title=N_("Points policy"),
    nav_group="Loyalty",
)
async def points_policy(ctx: Ctx) -> Response:
    return await _policy_form(ctx)


def _as_typed(raw: str) -> Any:
    # A number as a number; anything else as typed, for set_policy to refuse
    # with the message setPointsPolicy gives.
    text = raw.strip()
    if not text:
        return None
    try:
        return int(text)
    except ValueError:
        return text


@page("/points-policy", "points_policy_save", permission=Scope.MANAGE, methods=("POST",))
async def points_policy_save(ctx: Ctx) -> Response:
    """Like ``setPointsPolicy`` (manage scope)."""
    form = await ctx.form()
    typed = typed_of(form)
    if await ctx.stale(version_of(asdict(await get_policy(ctx.scope)))):
        return await _policy_form(ctx, 409, ctx.stale_errors())
    changes = {_snake(name): _as_typed(str(form.get(name, ""))) for name in POLICY_FIELDS}
    try:
        await ctx.audited(
            "setPointsPolicy",
            {name: typed.get(name) for name in POLICY_FIELDS},
            lambda: set_policy(ctx.scope, **changes),
        )
    except DomainError as error:
        return await _policy_form(ctx, 422, by_input(error), typed)
    return ctx.redirect(ctx.url("points_policy"), ctx.gettext("Saved."))
