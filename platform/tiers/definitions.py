"""Creating, changing and deleting a brand's tier definitions."""

from __future__ import annotations

import re
from collections.abc import Mapping
from typing import Any

from tortoise.exceptions import IntegrityError

from tessera.coupons.models import CouponTemplate
from tessera.errors import DomainError, DomainErrors
from tessera.scope import BrandScope
from tessera.tiers.benefits import clean_benefits
from tessera.tiers.models import MemberTierState, TierDefinition, TierHistory

CODE = re.compile(r"^[a-z0-9][a-z0-9_-]{0,31}$")
MAX_RANK = 1000
MAX_GIFT_POINTS = 10_000_000
MAX_GIFT_COUPONS = 10
MAX_VALIDITY_MONTHS = 120
DEFAULTS: dict[str, Any] = {
    "code": "",
    "name": "",
    "rank": None,
    "benefits": [],
    "gift_points": 0,
    "gift_coupon_template_ids": [],
    "validity_months": None,
}
# Input names (as the API spells them) of the stored columns, for error paths.
FIELDS = {
    "code": "code",
    "name": "name",
    "rank": "rank",
    "benefits": "benefits",
    "gift_points": "giftPoints",
    "gift_coupon_template_ids": "giftCouponTemplateIds",
    "validity_months": "validityMonths",
}


async def list_tiers(scope: BrandScope, using_db: Any = None) -> list[TierDefinition]:
    """The brand's tiers, lowest rank first."""
    return list(await scope.query(TierDefinition).using_db(using_db).order_by("rank"))


async def require_tier(scope: BrandScope, tier_id: int | None, field: str = "id") -> TierDefinition:
    found = await scope.get(TierDefinition, tier_id) if tier_id is not None else None
    if found is None:
        raise DomainError("NOT_FOUND", "no such tier", [field])
    return found


async def _clean(
    scope: BrandScope, values: Mapping[str, Any], base: dict[str, Any], exclude_id: int | None
) -> dict[str, Any]:
    row = {**base, **values}
    problems: list[DomainError] = []

    def bad(column: str, code: str, message: str) -> None:
        problems.append(DomainError(code, message, [FIELDS[column]]))

    code = str(row.get("code") or "").strip().lower()
    if not CODE.match(code):
        bad("code", "INVALID", "1-32 lower-case letters, digits, '-' or '_'")
    row["code"] = code
    name = str(row.get("name") or "").strip()
    if not name or len(name) > 100:
        bad("name", "INVALID", "a name of 1-100 characters is required")
    row["name"] = name
    rank = row.get("rank")
    if not isinstance(rank, int) or isinstance(rank, bool) or not 0 <= rank <= MAX_RANK:
        bad("rank", "OUT_OF_RANGE", f"rank is a whole number from 0 to {MAX_RANK}")
    points = row.get("gift_points") or 0
    if not isinstance(points, int) or not 0 <= points <= MAX_GIFT_POINTS:
        bad("gift_points", "OUT_OF_RANGE", f"from 0 to {MAX_GIFT_POINTS}")
    row["gift_points"] = points
    months = row.get("validity_months")
    if months is not None and not 1 <= months <= MAX_VALIDITY_MONTHS:
        bad("validity_months", "OUT_OF_RANGE", f"from 1 to {MAX_VALIDITY_MONTHS}, or null")
    try:
        row["benefits"] = clean_benefits(row.get("benefits") or [], [FIELDS["benefits"]])
    except DomainErrors as errors:
        problems += errors.errors
    except DomainError as error:
        problems.append(error)
    templates = list(dict.fromkeys(row.get("gift_coupon_template_ids") or []))
    if len(templates) > MAX_GIFT_COUPONS:
        bad("gift_coupon_template_ids", "TOO_MANY", f"at most {MAX_GIFT_COUPONS} coupons")
        templates_named = []
    else:
        templates_named = [
            (template_id, [FIELDS["gift_coupon_template_ids"], str(i)])
            for i, template_id in enumerate(templates)
        ]
    # A gift benefit's coupon template must be this brand's too.
    for i, benefit in enumerate(row.get("benefits") or []):
        template_id = benefit.get("coupon_template_id") if isinstance(benefit, dict) else None
        if isinstance(template_id, int):
            templates_named.append((template_id, [FIELDS["benefits"], str(i), "couponTemplateId"]))
    if templates_named:
        found = set(
            await scope.query(CouponTemplate)
            .filter(id__in=[template_id for template_id, _ in templates_named])
            .values_list("id", flat=True)
        )
        problems += [
            DomainError("NOT_FOUND", "no such coupon template", field)
            for template_id, field in templates_named
            if template_id not in found
        ]
    row["gift_coupon_template_ids"] = templates
    if not problems:
        taken = scope.query(TierDefinition).filter(rank=rank)
        if exclude_id is not None:
            taken = taken.exclude(id=exclude_id)
        if await taken.exists():
            bad("rank", "DUPLICATE", f"another tier already has rank {rank}")
        taken = scope.query(TierDefinition).filter(code=code)
        if exclude_id is not None:
            taken = taken.exclude(id=exclude_id)
        if await taken.exists():
            bad("code", "DUPLICATE", f"another tier already has code {code!r}")
    if problems:
        raise DomainErrors(problems)
    return {column: row[column] for column in FIELDS}


def _duplicate(error: IntegrityError) -> DomainError:
    # A concurrent writer took the rank or code between the check and the write.
    text = str(error).lower()
    column = "rank" if "rank" in text else "code"
    return DomainError("DUPLICATE", f"another tier already has this {column}", [FIELDS[column]])


async def create_tier(scope: BrandScope, values: Mapping[str, Any]) -> TierDefinition:
    """A new tier from ``values`` (column names of :class:`TierDefinition`)."""
    row = await _clean(scope, values, dict(DEFAULTS), None)
    try:
        return await scope.create(TierDefinition, **row)
    except IntegrityError as error:
        raise _duplicate(error) from None


async def update_tier(
    scope: BrandScope, tier_id: int | None, changes: Mapping[str, Any]
) -> TierDefinition:
    """Apply ``changes`` (only the columns given; ``validity_months`` None clears it
    when given). Members keep their current validity; a new one applies from
    their next change or renewal."""
    tier = await require_tier(scope, tier_id)
    base = {column: getattr(tier, column) for column in FIELDS}
    row = await _clean(scope, changes, base, tier.id)
    try:
        await scope.query(TierDefinition).filter(id=tier.id).update(**row)
    except IntegrityError as error:
        raise _duplicate(error) from None
    return await require_tier(scope, tier.id)


async def delete_tier(scope: BrandScope, tier_id: int | None) -> None:
    """Delete a tier that no member holds and no history names."""
    tier = await require_tier(scope, tier_id)
    held = await scope.query(MemberTierState).filter(tier_id=tier.id).exists()
    named = await scope.query(TierHistory).filter(to_tier_id=tier.id).exists()
    if held or named:
        raise DomainError(
            "TIER_IN_USE", "members hold or have held this tier; it cannot be deleted", ["id"]
        )
    await scope.query(TierDefinition).filter(id=tier.id).delete()
