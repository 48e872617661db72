"""Delivering domain events to the plugins enabled on the event's brand."""

from __future__ import annotations

import inspect
import logging
from collections import defaultdict
from datetime import UTC, datetime

from pydantic import BaseModel

from tessera import runtime
from tessera.features.models import BrandFeature
from tessera.features.service import load_config
from tessera.plugin_host.context import BrandInfo, PluginContext
from tessera.plugin_host.events import DomainEvent
from tessera.tenancy.models import Brand

log = logging.getLogger("tessera.plugins")


async def deliver(events: list[DomainEvent]) -> None:
    """Hand each event to every enabled plugin; a plugin's failure is contained."""
    for event in events:
        await _deliver_one(event)


async def _deliver_one(event: DomainEvent) -> None:
    rt = runtime.current()
    impls = rt.host.event_impls()
    if not impls:
        return
    # Unscoped by design: the dispatcher serves exactly event.brand_id.
    features = await BrandFeature.filter(brand_id=event.brand_id, enabled=True)
    configs: dict[str, dict[str, BaseModel]] = defaultdict(dict)
    for feature in features:
        registered = rt.host.component(feature.component_key)
        if registered is None:
            continue
        label = f"{feature.component_key}:{feature.instance}" if feature.instance else feature.component_key
        configs[registered.plugin][label] = load_config(registered.cls, feature, rt.settings)
    if not configs:
        return
    brand = await Brand.get(id=event.brand_id)
    info = BrandInfo(brand.id, brand.code, brand.name, brand.currency, brand.timezone)
    for plugin, function in impls:
        if plugin not in configs:
            continue
        context = PluginContext(info, configs[plugin], logging.getLogger(f"tessera.plugins.{plugin}"))
        try:
            result = function(event=event, context=context)
            if inspect.isawaitable(result):
                await result
        except Exception as exc:
            log.exception(
                "plugin %s failed on %s", plugin, event.name,
                extra={"plugin": plugin, "event": event.name, "brand_id": event.brand_id},
            )
            await _record_failure(rt, event.brand_id, plugin, f"{event.name}: {exc!r}")


async def _record_failure(rt: runtime.Runtime, brand_id: int, plugin: str, message: str) -> None:
    keys = [c.key for c in rt.host.components() if c.plugin == plugin]
    await BrandFeature.filter(brand_id=brand_id, component_key__in=keys, enabled=True).update(
        last_error=message[:2000], last_error_at=datetime.now(UTC)
    )
