"""Creating tenants and brands (operators' set-up work, done from the CLI)."""

from __future__ import annotations

import re
import zoneinfo

from tortoise.transactions import in_transaction

from tessera.errors import DomainError
from tessera.tenancy.models import Brand, Tenant

_CODE = re.compile(r"^[a-z0-9][a-z0-9_-]{0,63}$")


def _check_code(code: str, field: str) -> None:
    if not _CODE.match(code):
        raise DomainError(
            "INVALID",
            f"{field} must be 1-64 lower-case letters, digits, '-' or '_'",
            field=[field],
        )


async def create_tenant(code: str, name: str) -> Tenant:
    _check_code(code, "code")
    if await Tenant.filter(code=code).exists():
        raise DomainError("DUPLICATE", f"a tenant with code {code!r} exists", field=["code"])
    return await Tenant.create(code=code, name=name or code)


async def create_brand(
    tenant_code: str,
    code: str,
    name: str,
    *,
    currency: str = "CNY",
    timezone: str = "Asia/Shanghai",
    default_region: str = "CN",
) -> Brand:
    _check_code(code, "code")
    currency = currency.upper()
    if not re.fullmatch(r"[A-Z]{3}", currency):
        raise DomainError("INVALID", "currency must be a 3-letter ISO 4217 code", ["currency"])
    try:
        zoneinfo.ZoneInfo(timezone)
    except (zoneinfo.ZoneInfoNotFoundError, ValueError):
        raise DomainError(
            "INVALID", f"unknown time zone {timezone!r}", field=["timezone"]
        ) from None
    if not re.fullmatch(r"[A-Z]{2}", default_region.upper()):
        raise DomainError("INVALID", "default_region must be a 2-letter region", ["defaultRegion"])
    # Creating a brand: there is no brand scope yet for a unit of work.
    async with in_transaction():
        tenant = await Tenant.get_or_none(code=tenant_code)
        if tenant is None:
            raise DomainError("NOT_FOUND", f"no tenant {tenant_code!r}", field=["tenant"])
        if await Brand.filter(code=code).exists():
            raise DomainError("DUPLICATE", f"a brand with code {code!r} exists", field=["code"])
        return await Brand.create(
            tenant=tenant,
            code=code,
            name=name or code,
            currency=currency,
            timezone=timezone,
            default_region=default_region.upper(),
        )
