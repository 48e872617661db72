"""Delivering domain events to the plugins enabled on the event's brand."""

from __future__ import annotations

import inspect
import logging
from collections import defaultdict
from dataclasses import dataclass, field
from datetime import UTC, datetime

from pydantic import BaseModel

from tessera import runtime
from tessera.features.models import BrandFeature
from tessera.features.service import load_config
from tessera.features.stamp import current as features_read
from tessera.plugin_host.context import BrandInfo, PluginContext
from tessera.plugin_host.events import DomainEvent
from tessera.plugin_host.manager import PluginHost
from tessera.scope import BrandScope
from tessera.tenancy.models import Brand

log = logging.getLogger("tessera.plugins")


@dataclass
class _Audience:
    """The plugins an event of one brand reaches, with their configs there."""

    scope: BrandScope
    info: BrandInfo
    configs: dict[str, dict[str, BaseModel]] = field(default_factory=lambda: defaultdict(dict))
    broken: dict[str, str] = field(default_factory=dict)


async def deliver(events: list[DomainEvent], known: BrandScope | None = None) -> None:
    """Hand each event to every plugin enabled on its brand.

    Runs after the events' transaction committed, so nothing here may fail the
    caller: a plugin's exception is logged and recorded on its features.
    ``known`` is the scope the events came from (a unit of work's), which
    spares reading its brand again.
    """
    rt = runtime.current()
    listeners = rt.host.event_listeners()
    if not listeners or not events:
        return
    audiences: dict[int, _Audience | None] = {}
    for event in events:
        if event.brand_id not in audiences:
            audiences[event.brand_id] = await _audience(rt, event.brand_id, known)
        audience = audiences[event.brand_id]
        if audience is None:
            continue
        for plugin in listeners:
            if plugin in audience.broken:
                continue
            if plugin in audience.configs:
                await _call(rt.host, plugin, event, audience)


@dataclass(frozen=True)
class _Built:
    """The configs built for a brand's enabled features, by what they were
    built from: the features' text (:mod:`tessera.features.stamp`), the
    runtime (its settings hold the key to the secrets) and the host's
    registrations."""

    stamp: str
    rt: runtime.Runtime
    host: PluginHost
    generation: int
    configs: dict[str, dict[str, BaseModel]]
    broken: dict[str, str]

    def fits(self, stamp: str, rt: runtime.Runtime) -> bool:
        return (
            self.stamp == stamp
            and self.rt is rt
            and self.host is rt.host
            and self.generation == rt.host.generation
        )


# By brand id; a request that read its brand's features with its API key's
# revocation check reuses these while the text is the same.
_built: dict[int, _Built] = {}
_BUILT_SIZE = 10_000


async def _audience(
    rt: runtime.Runtime, brand_id: int, known: BrandScope | None
) -> _Audience | None:
    try:
        if known is not None and known.brand_id == brand_id:
            brand: Brand | None = known.brand
        else:
            brand = await Brand.get_or_none(id=brand_id)
        if brand is None:
            return None
        scope = BrandScope(brand)
        audience = _Audience(
            scope, BrandInfo(brand.id, brand.code, brand.name, brand.currency, brand.timezone)
        )
        stamp = features_read(brand_id)
        built = _built.get(brand_id)
        if stamp is not None and built is not None and built.fits(stamp, rt):
            audience.configs.update(built.configs)
            audience.broken.update(built.broken)
        else:
            await _configure(rt, scope, audience)
            if stamp is not None:
                if len(_built) >= _BUILT_SIZE:
                    del _built[next(iter(_built))]
                _built[brand_id] = _Built(
                    stamp,
                    rt,
                    rt.host,
                    rt.host.generation,
                    dict(audience.configs),
                    dict(audience.broken),
                )
    except Exception:
        log.exception("could not load the plugins enabled on brand %s", brand_id)
        return None
    for plugin, message in audience.broken.items():
        await _record_failure(rt.host, audience.scope, plugin, message)
    return audience


async def _configure(rt: runtime.Runtime, scope: BrandScope, audience: _Audience) -> None:
    """Read the brand's enabled features and build each plugin's configs."""
    for feature in await scope.query(BrandFeature).filter(enabled=True):
        registered = rt.host.component(feature.component_key)
        if registered is None:
            continue
        label = feature.component_key
        if feature.instance:
            label = f"{label}:{feature.instance}"
        try:
            config = load_config(registered.cls, feature, rt.settings)
        except Exception as exc:
            # A plugin upgrade can invalidate a stored config; the plugin
            # must not then run with a config it did not validate.
            log.error(
                "plugin %s: stored config of %s is unusable: %r", registered.plugin, label, exc
            )
            audience.broken[registered.plugin] = f"config of {label} is unusable: {exc!r}"
            continue
        audience.configs[registered.plugin][label] = config


async def _call(host: PluginHost, plugin: str, event: DomainEvent, audience: _Audience) -> None:
    context = PluginContext(
        audience.info,
        dict(audience.configs[plugin]),
        logging.getLogger(f"tessera.plugins.{plugin}"),
    )
    try:
        for result in host.event_caller(plugin)(event=event, context=context):
            if inspect.isawaitable(result):
                await result
    except Exception as exc:
        log.exception(
            "plugin %s failed on %s",
            plugin,
            event.name,
            extra={"plugin": plugin, "event": event.name, "brand_id": event.brand_id},
        )
        await _record_failure(host, audience.scope, plugin, f"{event.name}: {exc!r}")


async def _record_failure(host: PluginHost, scope: BrandScope, plugin: str, message: str) -> None:
    keys = [c.key for c in host.components() if c.plugin == plugin]
    try:
        await (
            scope.query(BrandFeature)
            .filter(component_key__in=keys, enabled=True)
            .update(last_error=message[:2000], last_error_at=datetime.now(UTC))
        )
    except Exception:
        log.exception("could not record the failure of plugin %s", plugin)
