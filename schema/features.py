"""Installed plugins and this brand's feature switches."""

from __future__ import annotations

from datetime import datetime
from enum import Enum
from typing import cast

import strawberry
from strawberry.scalars import JSON
from strawberry.types import Info

from tessera import runtime
from tessera.features import service
from tessera.plugin_host.components import ComponentFamily as Family
from tessera.plugin_host.manager import RegisteredComponent
from tessera.schema.errors import UserError
from tessera.schema.ids import encode_id
from tessera.schema.permissions import CanAdmin, CanRead


@strawberry.enum(description="The five kinds of component a plugin can contribute.")
class ComponentFamily(Enum):
    TIER_POLICY = "tier_policy"
    POINTS_RULE = "points_rule"
    CHANNEL_SENDER = "channel_sender"
    SLOT_KIND = "slot_kind"
    REPORT_TYPE = "report_type"


@strawberry.type(description="Something a plugin contributes, which a brand can switch on.")
class Component:
    key: str = strawberry.field(description="Stable unique key, used by `setFeature`.")
    family: ComponentFamily = strawberry.field(description="Which kind of component.")
    title: str = strawberry.field(description="Short name for the admin UI.")
    description: str = strawberry.field(description="What it does, for an operator.")
    plugin: str = strawberry.field(description="Name of the plugin that contributes it.")
    channel: str | None = strawberry.field(
        description="For channel senders: sms, email, wechat, push."
    )
    config_schema: JSON = strawberry.field(
        description="JSON Schema of its config; fields with `writeOnly` are secrets."
    )
    secret_fields: list[str] = strawberry.field(
        description="Config fields that are write-only and encrypted at rest."
    )

    @classmethod
    def from_registered(cls, registered: RegisteredComponent) -> Component:
        component = registered.cls
        return cls(
            key=component.key,
            family=ComponentFamily(component.family.value),
            title=component.title,
            description=component.description,
            plugin=registered.plugin,
            channel=getattr(component, "channel", None),
            config_schema=cast(JSON, component.config_schema()),
            secret_fields=sorted(component.secret_fields()),
        )


@strawberry.type(description="An installed plugin.")
class Plugin:
    name: str = strawberry.field(description="Entry-point name.")
    version: str | None = strawberry.field(description="Version of its distribution.")
    components: list[Component] = strawberry.field(description="What it contributes.")


@strawberry.type(description="A component switched on or off for this brand, with its config.")
class Feature:
    id: strawberry.ID = strawberry.field(description="Opaque id.")
    component: str = strawberry.field(description="Key of the component.")
    family: ComponentFamily = strawberry.field(description="Family of the component.")
    slot: str | None = strawberry.field(description="For slot kinds: the name of this slot.")
    enabled: bool = strawberry.field(description="Whether it is active.")
    installed: bool = strawberry.field(
        description="False when the plugin providing it is no longer installed."
    )
    config: JSON = strawberry.field(description="Its config without the secret fields.")
    secrets_set: list[str] = strawberry.field(description="Secret fields that have a value.")
    last_error: str | None = strawberry.field(
        description="The last failure of this component's plugin in this brand, if any."
    )
    last_error_at: datetime | None = strawberry.field(description="When `lastError` happened.")
    updated_at: datetime = strawberry.field(description="Last change of switch or config.")

    @classmethod
    def from_view(cls, view: service.FeatureView) -> Feature:
        f = view.feature
        return cls(
            id=strawberry.ID(encode_id("Feature", f.id)),
            component=f.component_key,
            family=ComponentFamily(f.family),
            slot=f.instance or None,
            enabled=f.enabled,
            installed=view.component is not None,
            config=cast(JSON, view.config),
            secrets_set=view.secrets_set,
            last_error=f.last_error,
            last_error_at=f.last_error_at,
            updated_at=f.updated_at,
        )


@strawberry.input(description="Switch a component on or off for this brand and set its config.")
class SetFeatureInput:
    component: str = strawberry.field(description="Key of an installed component.")
    enabled: bool = strawberry.field(default=True, description="On or off.")
    slot: str | None = strawberry.field(
        default=None, description="For slot kinds (required there): the slot's name."
    )
    config: JSON | None = strawberry.field(
        default=None,
        description=(
            "The whole config, validated against the component's schema. Omitted: keep "
            "the stored config. Secret fields left out or null keep their stored value."
        ),
    )


@strawberry.type(description="Result of `setFeature`.")
class SetFeaturePayload:
    feature: Feature | None = strawberry.field(
        default=None, description="The feature as now stored."
    )
    notes: list[str] = strawberry.field(
        default_factory=list,
        description="Other features this changed, e.g. the tier policy it replaced.",
    )
    errors: list[UserError] = strawberry.field(description="Why nothing was changed.")


@strawberry.type
class FeaturesQuery:
    @strawberry.field(
        description="Installed plugins and the components they contribute.",
        permission_classes=[CanRead],
    )
    def plugins(self) -> list[Plugin]:
        return [
            Plugin(
                name=p.name,
                version=p.version,
                components=[Component.from_registered(c) for c in p.components],
            )
            for p in runtime.current().host.plugins()
        ]

    @strawberry.field(
        description="This brand's feature switches and config (secrets redacted).",
        permission_classes=[CanRead],
    )
    async def features(self, info: Info, family: ComponentFamily | None = None) -> list[Feature]:
        wanted = Family(family.value) if family else None
        return [
            Feature.from_view(v) for v in await service.list_features(info.context.scope, wanted)
        ]


@strawberry.type
class FeaturesMutation:
    @strawberry.mutation(
        description=(
            "Enable or disable a component for this brand and set its config. Family rules: "
            "enabling a tier policy replaces the active one; one sender per channel; slot "
            "kinds need a slot name. Needs the admin scope."
        ),
        permission_classes=[CanAdmin],
    )
    async def set_feature(self, info: Info, input: SetFeatureInput) -> SetFeaturePayload:
        view, notes = await service.set_feature(
            info.context.scope,
            input.component,
            enabled=input.enabled,
            config=input.config,
            slot=input.slot,
        )
        return SetFeaturePayload(feature=Feature.from_view(view), notes=notes, errors=[])
