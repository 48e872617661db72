"""The demo set-up behind `make run`: a tenant, a brand and an admin key.

Idempotent: run it on every start. The key's secret is only shown at
creation, so it is also kept in ``<var_dir>/demo_api_key`` for the next run.
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

from tessera.auth.api_keys import authenticate, create_api_key
from tessera.tenancy.models import Brand, Tenant
from tessera.tenancy.service import create_brand, create_tenant

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
