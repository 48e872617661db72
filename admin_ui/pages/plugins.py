"""Plugins and features: every installed component by family, switched on or
off for the brand with its settings as a form generated from the component's
JSON Schema, validated by ``set_feature`` exactly as ``setFeature`` is."""

from __future__ import annotations

import json
from dataclasses import dataclass
from typing import Any

from starlette.responses import Response

from tessera import runtime
from tessera.admin_ui.context import Ctx, version_of
from tessera.admin_ui.i18n import N_
from tessera.admin_ui.registry import page
from tessera.auth.scopes import Scope
from tessera.errors import DomainError, DomainErrors
from tessera.features.service import FeatureView, list_features, set_feature
from tessera.plugin_host.manager import RegisteredComponent

SCALARS = {"string", "integer", "number", "boolean"}


@dataclass(frozen=True)
class Field:
    """One top-level config property as a form field."""

    name: str
    label: str
    help: str
    kind: str  # text, number, checkbox, select, secret or json
    required: bool
    choices: list[str]
    default: Any


def _resolve(schema: dict[str, Any], prop: dict[str, Any]) -> dict[str, Any]:
    """The property with a ``$ref`` to ``$defs`` followed and a nullable or
    number-or-text ``anyOf`` reduced to its first alternative."""
    defs = schema.get("$defs", {})
    if "$ref" in prop:
        return {
            **defs.get(prop["$ref"].rsplit("/", 1)[-1], {}),
            **{k: v for k, v in prop.items() if k != "$ref"},
        }
    if "anyOf" in prop:
        options = [o for o in prop["anyOf"] if o.get("type") != "null"]
        if options:
            first = _resolve(schema, options[0])
            if any(o.get("type") == "string" for o in options):
                first = {**first, "type": "string"} if first.get("type") in SCALARS else first
            return {**first, **{k: v for k, v in prop.items() if k != "anyOf"}}
    return prop


def fields_of(schema: dict[str, Any]) -> list[Field]:
    required = set(schema.get("required", []))
    found = []
    for name, raw in schema.get("properties", {}).items():
        prop = _resolve(schema, raw)
        kind = {"integer": "number", "number": "number", "boolean": "checkbox"}.get(
            prop.get("type", ""), "text" if prop.get("type") == "string" else "json"
        )
        if "enum" in prop:
            kind = "select"
        if prop.get("writeOnly"):
            kind = "secret"
        found.append(
            Field(
                name=name,
                label=str(prop.get("title", name)),
                help=str(prop.get("description", "")),
                kind=kind,
                required=name in required,
                choices=[str(c) for c in prop.get("enum", [])],
                default=prop.get("default"),
            )
        )
    return found


def _shown(field: Field, value: Any) -> str:
    if value is None:
        return ""
    if field.kind == "json":
        return json.dumps(value, ensure_ascii=False)
    return str(value).lower() if isinstance(value, bool) else str(value)


def _config_from_form(
    fields: list[Field], form: Any
) -> tuple[dict[str, Any], dict[str, list[str]]]:
    """The config the form describes. Scalars go to ``set_feature`` as typed
    (its validation converts and checks them); an empty field is left out, so
    the default applies and a secret keeps its stored value."""
    config: dict[str, Any] = {}
    errors: dict[str, list[str]] = {}
    for field in fields:
        raw = str(form.get(f"config.{field.name}", ""))
        if field.kind == "checkbox":
            config[field.name] = raw == "on"
        elif not raw.strip():
            continue
        elif field.kind == "json":
            try:
                config[field.name] = json.loads(raw)
            except ValueError:
                errors[field.name] = ["not valid JSON"]
        else:
            config[field.name] = raw.strip()
    return config, errors


def _field_errors(error: DomainError) -> dict[str, list[str]]:
    """Messages by config field (``["config", name, ...]``), else by input name."""
    found: dict[str, list[str]] = {}
    for one in error.errors if isinstance(error, DomainErrors) else [error]:
        path = one.field or []
        name = path[1] if len(path) > 1 and path[0] == "config" else (path[-1] if path else "")
        detail = ".".join(path[2:])
        found.setdefault(str(name), []).append(
            f"{detail}: {one.message}" if detail else one.message
        )
    return found


def _version(view: FeatureView | None) -> str:
    # The stored ciphertext stands for the secrets: replacing one changes it.
    return version_of(view.feature.enabled, view.config, view.feature.secrets) if view else ""


def _component(key: str) -> RegisteredComponent | None:
    return runtime.current().host.component(key)


async def _feature(ctx: Ctx, key: str) -> FeatureView | None:
    for view in await list_features(ctx.scope):
        if view.feature.component_key == key and not view.feature.instance:
            return view
    return None


@page(
    "/plugins",
    "plugins",
    permission=Scope.READ,
    title=N_("Plugins and features"),
    nav_group="Settings",
)
async def plugins(ctx: Ctx) -> Response:
    features = {
        v.feature.component_key: v for v in await list_features(ctx.scope) if not v.feature.instance
    }
    families: dict[str, list[tuple[RegisteredComponent, FeatureView | None]]] = {}
    for registered in runtime.current().host.components():
        families.setdefault(registered.cls.family.value, []).append(
            (registered, features.get(registered.cls.key))
        )
    return ctx.render("plugins.html", title=N_("Plugins and features"), families=families)


async def _form(
    ctx: Ctx,
    registered: RegisteredComponent,
    status: int = 200,
    errors: dict[str, list[str]] | None = None,
    typed: dict[str, str] | None = None,
    enabled: bool | None = None,
) -> Response:
    view = await _feature(ctx, registered.cls.key)
    fields = fields_of(registered.cls.config_schema())
    stored = view.config if view else {}
    values = (
        typed
        if typed is not None
        else {
            f.name: _shown(f, stored.get(f.name, f.default)) for f in fields if f.kind != "secret"
        }
    )
    return ctx.render(
        "plugin.html",
        status=status,
        title=N_("Plugins and features"),
        component=registered.cls,
        plugin=registered.plugin,
        view=view,
        fields=fields,
        values=values,
        secrets_set=set(view.secrets_set) if view else set(),
        enabled=view.feature.enabled if enabled is None and view else bool(enabled),
        version=_version(view),
        errors=errors or {},
        can_change=ctx.can(Scope.ADMIN),
    )


@page("/plugins/{key}", "plugin", permission=Scope.READ)
async def plugin(ctx: Ctx) -> Response:
    registered = _component(ctx.request.path_params["key"])
    if registered is None:
        return ctx.not_found()
    return await _form(ctx, registered)


@page("/plugins/{key}", "plugin_save", permission=Scope.ADMIN, methods=("POST",))
async def plugin_save(ctx: Ctx) -> Response:
    """Like ``setFeature`` (admin scope)."""
    registered = _component(ctx.request.path_params["key"])
    if registered is None:
        return ctx.not_found()
    form = await ctx.form()
    fields = fields_of(registered.cls.config_schema())
    enabled = form.get("enabled") == "on"
    config, errors = _config_from_form(fields, form)
    typed = {f.name: str(form.get(f"config.{f.name}", "")) for f in fields if f.kind != "secret"}
    if errors:
        return await _form(ctx, registered, 422, errors, typed, enabled)
    key = registered.cls.key
    if await ctx.stale(_version(await _feature(ctx, key))):
        return await _form(ctx, registered, 409, ctx.stale_errors())
    try:
        _, notes = await ctx.audited(
            "setFeature",
            {"component": key, "enabled": enabled, "config": sorted(config)},
            lambda: set_feature(ctx.scope, key, enabled=enabled, config=config),
        )
    except DomainError as error:
        return await _form(ctx, registered, 422, _field_errors(error), typed, enabled)
    ctx.flash(ctx.gettext("Saved."))
    for note in notes:
        ctx.flash(note, "warning")
    return ctx.redirect(ctx.url("plugin", key=key))
