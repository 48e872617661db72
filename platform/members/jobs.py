"""Job wrappers of the members domain."""

from __future__ import annotations

from typing import Any

from tessera.members import keys
from tessera.scope import BrandScope
from tessera.tenancy.models import Brand


async def identity_keys_reseal(ctx: dict[str, Any], brand_id: int) -> dict[str, int] | None:
    """Re-encrypt a brand's identity values under its current key version
    (``tessera keys rotate`` does it in the foreground). Resumable, so a retry
    after a timeout goes on where the run stopped."""
    brand = await Brand.get_or_none(id=brand_id)
    if brand is None:
        return None  # deleted since, with its rows
    done = await keys.reseal(BrandScope(brand))
    return {"version": done.version, "identities": done.identities, "members": done.members}
