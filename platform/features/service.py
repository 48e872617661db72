"""Per-brand switches: which components a brand has enabled, and their config."""

from __future__ import annotations

import re
from dataclasses import dataclass
from typing import Any

from pydantic import BaseModel, SecretStr, ValidationError

from tessera import runtime
from tessera.config import Settings
from tessera.crypto import decrypt_json, encrypt_json
from tessera.errors import DomainError, DomainErrors
from tessera.features.models import BrandFeature
from tessera.plugin_host.components import ChannelSender, Component, ComponentFamily
from tessera.scope import BrandScope
from tessera.tenancy.models import Brand
from tessera.uow import unit_of_work

_SLOT_NAME = re.compile(r"^[a-z0-9][a-z0-9_-]{0,99}$")


@dataclass(frozen=True)
class FeatureView:
    """A feature as callers may see it: secrets reduced to whether they are set."""

    feature: BrandFeature
    component: type[Component] | None
    config: dict[str, Any]
    secrets_set: list[str]


def load_config(cls: type[Component], feature: BrandFeature, settings: Settings) -> BaseModel:
    """The validated config of a stored feature, secrets decrypted."""
    values = dict(feature.config)
    values.update(decrypt_json(settings.secret(), feature.secrets))
    return cls.Config.model_validate(values)


def _validate(cls: type[Component], values: dict[str, Any]) -> BaseModel:
    try:
        return cls.Config.model_validate(values)
    except ValidationError as exc:
        raise DomainErrors(
            [
                DomainError(
                    "INVALID_CONFIG",
                    err["msg"],
                    field=["config", *(str(part) for part in err["loc"])],
                )
                for err in exc.errors()
            ]
        ) from None


def _split(cls: type[Component], config: BaseModel) -> tuple[dict[str, Any], dict[str, Any]]:
    secret_names = cls.secret_fields()
    plain = config.model_dump(mode="json", exclude=set(secret_names))
    secret = {}
    for name in secret_names:
        value = getattr(config, name)
        if isinstance(value, SecretStr):
            secret[name] = value.get_secret_value()
    return plain, secret


async def set_feature(
    scope: BrandScope,
    component_key: str,
    *,
    enabled: bool,
    config: dict[str, Any] | None = None,
    slot: str | None = None,
) -> tuple[FeatureView, list[str]]:
    """Enable or disable a component for the brand and set its config.

    Omitted secret fields keep their stored value, so an operator can change a
    gateway's URL without retyping its key. Returns the feature and notes about
    other features this changed (a replaced tier policy).
    """
    rt = runtime.current()
    registered = rt.host.component(component_key)
    if registered is None:
        raise DomainError("NOT_FOUND", f"no installed component {component_key!r}", ["component"])
    cls = registered.cls
    instance = slot or ""
    if cls.family is ComponentFamily.SLOT_KIND:
        if not _SLOT_NAME.match(instance):
            raise DomainError(
                "INVALID", "a slot kind needs a slot name: lower-case letters, digits, - or _",
                ["slot"],
            )
    elif instance:
        raise DomainError("INVALID", "only slot kinds take a slot name", ["slot"])

    notes: list[str] = []
    async with unit_of_work(scope) as uow:
        # Serialise feature changes of one brand so the family rules hold under races.
        await Brand.filter(id=scope.brand_id).using_db(uow.connection).select_for_update().first()
        existing = await scope.query(BrandFeature).using_db(uow.connection).get_or_none(
            component_key=cls.key, instance=instance
        )
        values: dict[str, Any] = dict(existing.config) if existing and config is None else {}
        if config is not None:
            values = dict(config)
        if existing:
            stored = decrypt_json(rt.settings.secret(), existing.secrets)
            for name in cls.secret_fields():
                if values.get(name) is None and name in stored:
                    values[name] = stored[name]
        validated = _validate(cls, values)
        plain, secret = _split(cls, validated)

        if enabled:
            notes += await _apply_family_rules(scope, uow.connection, cls, instance)
        elif (
            existing is not None
            and existing.enabled
            and cls.family is ComponentFamily.TIER_POLICY
        ):
            raise DomainError(
                "TIER_POLICY_REQUIRED",
                "a brand always has one tier policy; enable another to replace this one",
                ["enabled"],
            )

        encrypted = encrypt_json(rt.settings.secret(), secret)
        if existing is None:
            feature = await BrandFeature.create(
                using_db=uow.connection,
                brand_id=scope.brand_id,
                family=cls.family.value,
                component_key=cls.key,
                instance=instance,
                enabled=enabled,
                config=plain,
                secrets=encrypted,
            )
        else:
            feature = existing
            feature.enabled = enabled
            feature.config = plain
            feature.secrets = encrypted
            if enabled:
                feature.last_error = None
                feature.last_error_at = None
            await feature.save(using_db=uow.connection)
        uow.emit(
            "feature.changed",
            component=cls.key,
            slot=instance or None,
            enabled=enabled,
            replaced=notes,
        )
    return _view(feature, cls, secret), notes


async def _apply_family_rules(
    scope: BrandScope, connection: Any, cls: type[Component], instance: str
) -> list[str]:
    others = (
        scope.query(BrandFeature)
        .using_db(connection)
        .filter(family=cls.family.value, enabled=True)
        .exclude(component_key=cls.key, instance=instance)
    )
    if cls.family is ComponentFamily.TIER_POLICY:
        replaced = [f.component_key for f in await others]
        if replaced:
            await others.update(enabled=False)
        return [f"disabled tier policy {key!r}" for key in replaced]
    if cls.family is ComponentFamily.CHANNEL_SENDER:
        assert issubclass(cls, ChannelSender)
        host = runtime.current().host
        for other in await others:
            registered = host.component(other.component_key)
            other_cls = registered.cls if registered else None
            if getattr(other_cls, "channel", None) == cls.channel:
                raise DomainError(
                    "CONFLICT",
                    f"channel {cls.channel!r} already uses sender {other.component_key!r}; "
                    "disable it first",
                    ["component"],
                )
    return []


def _view(feature: BrandFeature, cls: type[Component] | None, secret: dict[str, Any]) -> FeatureView:
    return FeatureView(feature, cls, dict(feature.config), sorted(k for k, v in secret.items() if v))


async def list_features(scope: BrandScope, family: ComponentFamily | None = None) -> list[FeatureView]:
    rt = runtime.current()
    query = scope.query(BrandFeature).order_by("family", "component_key", "instance")
    if family is not None:
        query = query.filter(family=family.value)
    views = []
    for feature in await query:
        registered = rt.host.component(feature.component_key)
        secret = decrypt_json(rt.settings.secret(), feature.secrets)
        views.append(_view(feature, registered.cls if registered else None, secret))
    return views


async def enabled_components(
    scope: BrandScope, family: ComponentFamily
) -> list[tuple[Component, BrandFeature]]:
    """Instances of the brand's enabled components of one family, configured."""
    rt = runtime.current()
    result = []
    for feature in await scope.query(BrandFeature).filter(family=family.value, enabled=True):
        registered = rt.host.component(feature.component_key)
        if registered is not None:
            config = load_config(registered.cls, feature, rt.settings)
            result.append((registered.cls(config), feature))
    return result
