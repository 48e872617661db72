"""Per-brand switches: which components a brand has enabled, and their config."""

from __future__ import annotations

import re
from dataclasses import dataclass
from typing import Any

from pydantic import BaseModel, SecretStr, ValidationError
from tortoise.expressions import Q

from tessera import runtime
from tessera.config import Settings
from tessera.crypto import decrypt_json, encrypt_json
from tessera.errors import DomainError, DomainErrors
from tessera.features.models import BrandFeature
from tessera.features.stamp import changed as features_changed
from tessera.plugin_host.components import Component, ComponentFamily
from tessera.scope import BrandScope
from tessera.tenancy.models import Brand
from tessera.uow import unit_of_work

SLOT_NAME = re.compile(r"^[a-z0-9][a-z0-9_-]{0,99}$")


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
    accepted = _accepted_names(cls.Config)
    problems = [
        DomainError("INVALID_CONFIG", "unknown config field", field=["config", name])
        for name in sorted(values)
        if accepted is not None and name not in accepted
    ]
    try:
        validated = cls.Config.model_validate(values)
    except ValidationError as exc:
        # include_input=False: the rejected value may be a secret.
        problems += [
            DomainError(
                "INVALID_CONFIG",
                err["msg"],
                field=["config", *(str(part) for part in err["loc"])],
            )
            for err in exc.errors(include_input=False, include_url=False)
        ]
    if problems:
        raise DomainErrors(problems)
    return validated


def _accepted_names(model: type[BaseModel]) -> set[str] | None:
    """The top-level keys a config may have; None when the model takes any.

    Pydantic ignores unknown keys by default, so a typo would be dropped
    silently and the operator left wondering why the setting has no effect.
    """
    if model.model_config.get("extra") == "allow":
        return None
    names = set()
    for name, info in model.model_fields.items():
        names.add(name)
        for alias in (info.alias, info.validation_alias):
            if isinstance(alias, str):
                names.add(alias)
    return names


def _split(cls: type[Component], config: BaseModel) -> tuple[dict[str, Any], dict[str, Any]]:
    secret_names = cls.secret_fields()
    plain = config.model_dump(mode="json", exclude=set(secret_names))
    secret = {}
    for name in secret_names:
        value = getattr(config, name)
        if isinstance(value, SecretStr):
            secret[name] = value.get_secret_value()
    return plain, secret


def _check_slot(cls: type[Component], slot: str | None) -> str:
    if cls.family is ComponentFamily.SLOT_KIND:
        if not slot:
            raise DomainError("REQUIRED", "a slot kind needs a slot name", ["slot"])
        if not SLOT_NAME.match(slot):
            raise DomainError(
                "INVALID",
                "a slot name is 1-100 lower-case letters, digits, '-' or '_', "
                "starting with a letter or digit",
                ["slot"],
            )
        return slot
    if slot:
        raise DomainError("INVALID", "only slot kinds take a slot name", ["slot"])
    return ""


async def set_feature(
    scope: BrandScope,
    component_key: str,
    *,
    enabled: bool,
    config: Any = None,
    slot: str | None = None,
) -> tuple[FeatureView, list[str]]:
    """Enable or disable a component for the brand and set its config.

    ``config`` is the whole config (validated against the component's
    ``Config``); None keeps the stored one. Omitted or null secret fields keep
    their stored value, so an operator can change a gateway's URL without
    retyping its key. Returns the feature and notes about other features this
    changed (a replaced tier policy). Raises :class:`DomainError` and changes
    nothing when the input or a family rule says no.
    """
    rt = runtime.current()
    registered = rt.host.component(component_key)
    if registered is None:
        raise DomainError("NOT_FOUND", f"no installed component {component_key!r}", ["component"])
    cls = registered.cls
    instance = _check_slot(cls, slot)
    if config is not None and not isinstance(config, dict):
        raise DomainError("INVALID_CONFIG", "config must be a JSON object", ["config"])

    notes: list[str] = []
    async with unit_of_work(scope) as uow:
        # Serialise feature changes of one brand so the family rules hold under
        # concurrent requests (PostgreSQL; SQLite serialises writers anyway).
        await Brand.filter(id=scope.brand_id).using_db(uow.connection).select_for_update().first()
        existing = (
            await scope.query(BrandFeature)
            .using_db(uow.connection)
            .get_or_none(component_key=cls.key, instance=instance)
        )
        stored = decrypt_json(rt.settings.secret(), existing.secrets) if existing else {}
        if existing is not None and config is None and not enabled:
            # Switching off never needs the config to be valid (a plugin upgrade
            # may have changed its schema).
            plain, secret = dict(existing.config), stored
        else:
            values = dict(config) if config is not None else {}
            if existing is not None and config is None:
                values = dict(existing.config)
            for name in cls.secret_fields():
                if values.get(name) is None and name in stored:
                    values[name] = stored[name]
            plain, secret = _split(cls, _validate(cls, values))

        if enabled:
            notes += await _apply_family_rules(scope, uow.connection, cls, instance)
        elif (
            existing is not None and existing.enabled and cls.family is ComponentFamily.TIER_POLICY
        ):
            raise DomainError(
                "TIER_POLICY_REQUIRED",
                "a brand always has one active tier policy; enable another to replace this one",
                ["enabled"],
            )

        encrypted = encrypt_json(rt.settings.secret(), secret)
        if existing is None:
            feature = await scope.create(
                BrandFeature,
                using_db=uow.connection,
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
                # A new config is a fresh start; the old failure may be fixed.
                feature.last_error = None
                feature.last_error_at = None
            await feature.save(using_db=uow.connection)
        # What this request read of the features before is stale now.
        features_changed()
        uow.emit(
            "feature.changed",
            component=cls.key,
            family=cls.family.value,
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
        .filter(~Q(component_key=cls.key, instance=instance))
    )
    if cls.family is ComponentFamily.TIER_POLICY:
        replaced = sorted(f.component_key for f in await others)
        if replaced:
            await others.update(enabled=False)
        return [f"disabled tier policy {key!r}" for key in replaced]
    if cls.family is ComponentFamily.CHANNEL_SENDER:
        channel = getattr(cls, "channel", None)
        host = runtime.current().host
        for other in await others:
            registered = host.component(other.component_key)
            if registered is not None and getattr(registered.cls, "channel", None) == channel:
                raise DomainError(
                    "CONFLICT",
                    f"channel {channel!r} already uses sender {other.component_key!r}; "
                    "disable it first",
                    ["component"],
                )
    return []


def _view(
    feature: BrandFeature, cls: type[Component] | None, secret: dict[str, Any]
) -> FeatureView:
    return FeatureView(
        feature, cls, dict(feature.config), sorted(k for k, v in secret.items() if v)
    )


async def list_features(
    scope: BrandScope, family: ComponentFamily | None = None
) -> list[FeatureView]:
    """The brand's features (enabled or not), secrets reduced to their names."""
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
