"""The demo set-up behind `make run`: a tenant, a brand with a loyalty
programme (three tiers by cumulative spend, purchase and activity points,
points as cash), and an admin key.

Idempotent: run it on every start. The key's secret is only shown at
creation, so it is also kept in ``<var_dir>/demo_api_key`` for the next run.
"""

from __future__ import annotations

import secrets
from dataclasses import dataclass
from pathlib import Path

from tessera.auth.admin_users import Role, create_admin_user, grant_role, set_password
from tessera.auth.api_keys import authenticate, create_api_key
from tessera.auth.models import AdminUser
from tessera.features.service import set_feature
from tessera.scope import BrandScope
from tessera.tenancy.models import Brand, Tenant
from tessera.tenancy.service import create_brand, create_tenant
from tessera.tiers.definitions import create_tier

DEMO_CODE = "demo"


@dataclass(frozen=True)
class DemoSetup:
    brand: Brand
    token: str
    key_created: bool
    key_file: Path


async def ensure_demo(var_dir: Path) -> DemoSetup:
    """Create whatever of the demo tenant, brand and key is missing."""
    if not await Tenant.filter(code=DEMO_CODE).exists():
        await create_tenant(DEMO_CODE, "Demo company")
    brand = await Brand.get_or_none(code=DEMO_CODE)
    if brand is None:
        brand = await create_brand(
            DEMO_CODE, DEMO_CODE, "Demo brand", currency="CNY", timezone="Asia/Shanghai"
        )
        await loyalty_programme(BrandScope(brand))
    key_file = var_dir / "demo_api_key"
    token = key_file.read_text().strip() if key_file.exists() else ""
    principal = await authenticate(token) if token else None
    # A key from another database (deleted file, revoked key) is replaced.
    if principal is not None and principal.scope.brand.id == brand.id:
        return DemoSetup(brand, token, key_created=False, key_file=key_file)
    issued = await create_api_key(brand, "demo key (make run)", ["admin"])
    key_file.parent.mkdir(parents=True, exist_ok=True)
    key_file.write_text(issued.token + "\n")
    key_file.chmod(0o600)
    return DemoSetup(brand, issued.token, key_created=True, key_file=key_file)


DEMO_ADMIN_EMAIL = "admin@demo.example"


async def ensure_demo_admin(brand: Brand, var_dir: Path) -> tuple[str, str]:
    """The demo owner of the admin UI and its password, kept in
    ``<var_dir>/demo_admin_password`` like the demo key (a missing file gets a
    new password)."""
    password_file = var_dir / "demo_admin_password"
    password = password_file.read_text().strip() if password_file.exists() else ""
    user = await AdminUser.get_or_none(email=DEMO_ADMIN_EMAIL)
    if not password:
        password = secrets.token_urlsafe(12)
        password_file.parent.mkdir(parents=True, exist_ok=True)
        password_file.write_text(password + "\n")
        password_file.chmod(0o600)
        if user is not None:
            await set_password(user, password)
    if user is None:
        tenant = await Tenant.get(id=brand.tenant_id)
        user = await create_admin_user(tenant, DEMO_ADMIN_EMAIL, password, "Demo owner")
    await grant_role(BrandScope(brand), user, Role.OWNER.value)
    return DEMO_ADMIN_EMAIL, password


# What a mid-sized Chinese retail brand starts with (DOMAIN.md, "Membership
# scheme"): three tiers, spend-based entry, points on purchase and activity.
DEMO_TIERS = (
    {"code": "silver", "name": "银卡 Silver", "rank": 1, "validity_months": None},
    {
        "code": "gold",
        "name": "金卡 Gold",
        "rank": 2,
        "validity_months": 12,
        "gift_points": 500,
        "benefits": [{"kind": "member_price", "percent_off": 5}, {"kind": "free_shipping"}],
    },
    {
        "code": "platinum",
        "name": "白金卡 Platinum",
        "rank": 3,
        "validity_months": 12,
        "gift_points": 2000,
        "benefits": [
            {"kind": "member_price", "percent_off": 10},
            {"kind": "free_shipping"},
            {"kind": "free_returns"},
        ],
    },
)
DEMO_FEATURES = (
    (
        "tiers.cumulative_spend",
        {"thresholds": {"silver": "0", "gold": "3000", "platinum": "10000"}, "window_months": 12},
    ),
    ("points.purchase", {"points_per_unit": "1", "tier_multipliers": {"platinum": "2"}}),
    (
        "points.activity",
        {"registration": 100, "check_in": 5, "streak_days": 7, "streak_bonus": 50},
    ),
    ("points.redemption", {"points_per_unit": 100, "max_share_percent": 30, "min_points": 100}),
)


async def loyalty_programme(scope: BrandScope) -> None:
    for tier in DEMO_TIERS:
        await create_tier(scope, dict(tier))
    for component, config in DEMO_FEATURES:
        await set_feature(scope, component, enabled=True, config=config)
