"""Coupon templates: validation, create/update/delete, and the validity window
a coupon issued from one gets.

A template's terms (kind, value, minimum spend, categories) are a promise to
every member already holding one of its coupons, so they are frozen once a
coupon has been issued; its title, stock, limits, validity for future issues
and active flag stay editable. Both rules are conditional updates on
``issued_count``, so an issue racing an edit cannot slip past them.
"""

from __future__ import annotations

from collections.abc import Mapping
from datetime import UTC, date, datetime, time, timedelta
from enum import StrEnum
from typing import Any
from zoneinfo import ZoneInfo

from tessera.coupons.models import CouponTemplate
from tessera.errors import DomainError, DomainErrors
from tessera.orders.money import MoneyAmount, to_minor
from tessera.scope import BrandScope

MAX_VALID_DAYS = 3650
MAX_CATEGORIES = 50


class CouponKind(StrEnum):
    AMOUNT_OFF = "amount_off"
    PERCENT_OFF = "percent_off"
    GIFT = "gift"
    FREE_SHIPPING = "free_shipping"


# Column -> the input field that sets it, for error paths.
FIELDS = {
    "kind": "kind",
    "title": "title",
    "description": "description",
    "amount_off": "amountOff",
    "percent_off": "percentOff",
    "max_discount": "maxDiscount",
    "gift_sku": "giftSku",
    "min_spend": "minSpend",
    "categories": "categories",
    "valid_from_date": "validFrom",
    "valid_until_date": "validUntil",
    "valid_days": "validDays",
    "total_stock": "totalStock",
    "per_member_limit": "perMemberLimit",
    "active": "active",
}
TERMS = ("kind", "amount_off", "percent_off", "max_discount", "gift_sku", "min_spend", "categories")
_MONEY = ("amount_off", "max_discount", "min_spend")


def _stored(template: CouponTemplate | None) -> dict[str, Any]:
    if template is None:
        return {"min_spend": 0, "categories": [], "active": True, "description": ""}
    return {column: getattr(template, column) for column in FIELDS}


def _clean(values: Mapping[str, Any], base: dict[str, Any], currency: str) -> dict[str, Any]:
    """The columns to store: ``values`` (columns; money as :class:`MoneyAmount`)
    laid over ``base``, checked as a whole so every problem is named at once."""
    unknown = set(values) - set(FIELDS)
    if unknown:
        raise ValueError(f"not template fields: {sorted(unknown)}")
    errors: list[DomainError] = []

    def bad(column: str, code: str, message: str) -> None:
        errors.append(DomainError(code, message, [FIELDS[column]]))

    row = dict(base)
    for column, value in values.items():
        if column in _MONEY and isinstance(value, MoneyAmount):
            try:
                value = to_minor(value, currency, [FIELDS[column]])
            except DomainError as error:
                errors.append(error)
                continue
        row[column] = value

    try:
        kind = CouponKind(str(row.get("kind")))
    except ValueError:
        bad("kind", "INVALID", "kind is one of AMOUNT_OFF, PERCENT_OFF, GIFT, FREE_SHIPPING")
        kind = None
    title = (row.get("title") or "").strip()
    row["title"] = title
    if not title:
        bad("title", "REQUIRED", "a template needs a title for the member's wallet")
    elif len(title) > 200:
        bad("title", "TOO_LONG", "must be at most 200 characters")
    row["description"] = (row.get("description") or "").strip()
    if len(row["description"]) > 2000:
        bad("description", "TOO_LONG", "must be at most 2000 characters")

    own = {
        CouponKind.AMOUNT_OFF: {"amount_off"},
        CouponKind.PERCENT_OFF: {"percent_off", "max_discount"},
        CouponKind.GIFT: {"gift_sku"},
        CouponKind.FREE_SHIPPING: set(),
    }
    for column in ("amount_off", "percent_off", "max_discount", "gift_sku"):
        if kind is not None and column not in own[kind] and row.get(column) is not None:
            if column in values:
                bad(column, "INVALID", f"only for a {_kind_name(column)} coupon")
            else:
                row[column] = None  # left over from the template's former kind
    if kind is CouponKind.AMOUNT_OFF:
        if row.get("amount_off") is None:
            bad("amount_off", "REQUIRED", "an AMOUNT_OFF coupon needs amountOff")
        elif row["amount_off"] <= 0:
            bad("amount_off", "INVALID_AMOUNT", "amountOff must be more than zero")
    if kind is CouponKind.PERCENT_OFF:
        percent = row.get("percent_off")
        if percent is None:
            bad("percent_off", "REQUIRED", "a PERCENT_OFF coupon needs percentOff")
        elif not 1 <= percent <= 100:
            bad("percent_off", "OUT_OF_RANGE", "percentOff is between 1 and 100")
        if row.get("max_discount") is not None and row["max_discount"] <= 0:
            bad("max_discount", "INVALID_AMOUNT", "maxDiscount must be more than zero")
    if kind is CouponKind.GIFT:
        sku = (row.get("gift_sku") or "").strip()
        row["gift_sku"] = sku or None
        if not sku:
            bad("gift_sku", "REQUIRED", "a GIFT coupon needs giftSku")
        elif len(sku) > 64:
            bad("gift_sku", "TOO_LONG", "must be at most 64 characters")

    if row.get("min_spend") is None:
        row["min_spend"] = 0
    categories = row.get("categories") or []
    cleaned = list(dict.fromkeys(c.strip() for c in categories))
    if len(cleaned) > MAX_CATEGORIES:
        bad("categories", "TOO_MANY", f"at most {MAX_CATEGORIES} categories")
    if any(not c or len(c) > 100 for c in cleaned):
        bad("categories", "INVALID", "a category is 1-100 characters")
    row["categories"] = cleaned

    start, until, days = (
        row.get("valid_from_date"),
        row.get("valid_until_date"),
        row.get("valid_days"),
    )
    if (until is None) == (days is None):
        bad("valid_until_date", "INVALID", "give exactly one of validUntil and validDays")
    if days is not None and not 1 <= days <= MAX_VALID_DAYS:
        bad("valid_days", "OUT_OF_RANGE", f"validDays is between 1 and {MAX_VALID_DAYS}")
    if start is not None and until is None:
        bad("valid_from_date", "INVALID", "validFrom goes with validUntil")
    if start is not None and until is not None and until < start:
        bad("valid_until_date", "INVALID", "validUntil must not be before validFrom")
    if row.get("total_stock") is not None and row["total_stock"] < 0:
        bad("total_stock", "OUT_OF_RANGE", "totalStock must not be negative")
    if row.get("per_member_limit") is not None and row["per_member_limit"] < 1:
        bad("per_member_limit", "OUT_OF_RANGE", "perMemberLimit is at least 1")
    if row.get("active") is None:
        row["active"] = True
    if errors:
        raise DomainErrors(errors)
    return row


def _kind_name(column: str) -> str:
    return {
        "amount_off": "AMOUNT_OFF",
        "percent_off": "PERCENT_OFF",
        "max_discount": "PERCENT_OFF",
        "gift_sku": "GIFT",
    }[column]


async def create_template(scope: BrandScope, values: Mapping[str, Any]) -> CouponTemplate:
    """A new template from ``values`` (column names; money as :class:`MoneyAmount`)."""
    row = _clean(values, _stored(None), scope.brand.currency)
    return await scope.create(CouponTemplate, **row)


async def require_template(
    scope: BrandScope, template_id: int | None, field: str
) -> CouponTemplate:
    found = await scope.get(CouponTemplate, template_id) if template_id is not None else None
    if found is None:
        raise DomainError("NOT_FOUND", "no such coupon template", [field])
    return found


async def update_template(
    scope: BrandScope, template_id: int | None, changes: Mapping[str, Any]
) -> CouponTemplate:
    """Apply ``changes`` (only the columns given). Terms are refused once a
    coupon was issued (``TEMPLATE_IN_USE``); stock never below what was issued."""
    template = await require_template(scope, template_id, "id")
    row = _clean(changes, _stored(template), scope.brand.currency)
    changed = {c: v for c, v in row.items() if v != getattr(template, c)}
    if not changed:
        return template
    guard: dict[str, Any] = {"id": template.id}
    if any(c in TERMS for c in changed):
        guard["issued_count"] = 0
    if changed.get("total_stock") is not None:
        guard["issued_count__lte"] = changed["total_stock"]
    moved = await scope.query(CouponTemplate).filter(**guard).update(**changed)
    if not moved:
        fresh = await require_template(scope, template.id, "id")
        if any(c in TERMS for c in changed) and fresh.issued_count:
            term = next(c for c in changed if c in TERMS)
            raise DomainError(
                "TEMPLATE_IN_USE",
                f"{fresh.issued_count} coupons were issued with these terms; create a new "
                "template instead",
                [FIELDS[term]],
            )
        raise DomainError(
            "STOCK_BELOW_ISSUED",
            f"{fresh.issued_count} coupons were already issued; totalStock cannot be lower",
            ["totalStock"],
        )
    return await require_template(scope, template.id, "id")


async def delete_template(scope: BrandScope, template_id: int | None) -> None:
    """Delete a template no coupon was issued from; otherwise deactivate it."""
    template = await require_template(scope, template_id, "id")
    deleted = await scope.query(CouponTemplate).filter(id=template.id, issued_count=0).delete()
    if not deleted:
        raise DomainError(
            "TEMPLATE_IN_USE",
            "coupons were issued from this template; set active to false instead",
            ["id"],
        )


def _day_start(day: date, tz: ZoneInfo) -> datetime:
    return datetime.combine(day, time(), tzinfo=tz).astimezone(UTC)


def window(
    template: CouponTemplate, timezone: str, issued_at: datetime
) -> tuple[datetime, datetime]:
    """When a coupon issued at ``issued_at`` is usable: ``(valid_from, expires_at)``,
    ``expires_at`` exclusive. ``valid_days`` N: until the end of the Nth day after
    the day of issue; fixed dates: from the start of the first to the end of the
    last, both in the brand's timezone."""
    tz = ZoneInfo(timezone)
    if template.valid_days is not None:
        last = issued_at.astimezone(tz).date() + timedelta(days=template.valid_days)
        return issued_at, _day_start(last + timedelta(days=1), tz)
    if template.valid_until_date is None:
        raise ValueError(f"coupon template {template.id} has no validity")
    start = _day_start(template.valid_from_date, tz) if template.valid_from_date else issued_at
    return start, _day_start(template.valid_until_date + timedelta(days=1), tz)


def discount_for(template: CouponTemplate, order_amount: int) -> int:
    """Money off an order of ``order_amount`` (minor units): never more than the
    order; a gift or free shipping takes nothing off the amount."""
    if template.kind == CouponKind.AMOUNT_OFF:
        return min(template.amount_off or 0, order_amount)
    if template.kind == CouponKind.PERCENT_OFF:
        off = order_amount * (template.percent_off or 0) // 100
        if template.max_discount is not None:
            off = min(off, template.max_discount)
        return off
    return 0
