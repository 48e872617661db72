"""A brand's retention periods (docs/privacy.md, "Retention")."""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from tessera.errors import DomainError, DomainErrors
from tessera.privacy.models import PrivacySettings
from tessera.scope import BrandScope
from tessera.uow import unit_of_work

# Field -> (least, most). Periods are days; ``None`` keeps for ever.
LIMITS: dict[str, tuple[int, int]] = {
    "behaviour_event_days": (1, 36500),
    "webhook_delivery_days": (1, 36500),
    "message_log_days": (1, 36500),
    "inactive_member_days": (30, 36500),
    "export_link_hours": (1, 720),
}
OPTIONAL = {
    "behaviour_event_days",
    "webhook_delivery_days",
    "message_log_days",
    "inactive_member_days",
}


async def get_settings(scope: BrandScope) -> PrivacySettings:
    """The brand's settings; a brand that never set them keeps everything."""
    found = await scope.query(PrivacySettings).first()
    return found if found is not None else scope.build(PrivacySettings)


def _camel(name: str) -> str:
    head, *rest = name.split("_")
    return head + "".join(p.title() for p in rest)


async def update_settings(scope: BrandScope, changes: Mapping[str, Any]) -> PrivacySettings:
    """Set the periods given (``None`` clears an optional one)."""
    errors = []
    for name, value in changes.items():
        least, most = LIMITS[name]
        if value is None and name in OPTIONAL:
            continue
        if value is None or not least <= value <= most:
            errors.append(
                DomainError("OUT_OF_RANGE", f"between {least} and {most}", [_camel(name)])
            )
    if errors:
        raise DomainErrors(errors)
    async with unit_of_work(scope):
        settings = await scope.query(PrivacySettings).select_for_update().first()
        if settings is None:
            return await scope.create(PrivacySettings, **changes)
        settings.update_from_dict(dict(changes))
        await settings.save()
        return settings
