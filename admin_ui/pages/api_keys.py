"""The brand's API keys (owners only, as the admin scope): create — the
secret is shown once —, see scopes and last use, revoke."""

from __future__ import annotations

from starlette.responses import Response

from tessera.admin_ui.context import SECRET_SENT_BEFORE, Ctx, errors_of, shown_once
from tessera.admin_ui.i18n import N_
from tessera.admin_ui.registry import page
from tessera.auth.api_keys import create_api_key, revoke_api_key
from tessera.auth.models import ApiKey
from tessera.auth.scopes import BRAND_SCOPES, Scope
from tessera.errors import DomainError


async def _list(
    ctx: Ctx,
    status: int = 200,
    errors: dict[str, list[str]] | None = None,
    token: str | None = None,
    name: str = "",
) -> Response:
    keys = await ctx.scope.query(ApiKey).order_by("-created_at", "-id")
    return ctx.render(
        "api_keys.html",
        status=status,
        title=N_("API keys"),
        keys=keys,
        # The persons scope reads the whole tenant: offered to tenant owners only.
        scopes=[s.value for s in (*BRAND_SCOPES, Scope.PERSONS) if ctx.can(s)],
        errors=errors or {},
        token=token,
        name=name,
    )


@page("/api-keys", "api_keys", permission=Scope.ADMIN, title=N_("API keys"), nav_group="Settings")
async def api_keys(ctx: Ctx) -> Response:
    return await _list(ctx)


@page("/api-keys/new", "api_key_create", permission=Scope.ADMIN, methods=("POST",))
async def create(ctx: Ctx) -> Response:
    form = await ctx.form()
    name = str(form.get("name", "")).strip()
    scopes = [str(s) for s in form.getlist("scopes")]
    try:
        if not name:
            raise DomainError("REQUIRED", "give the key a name", ["name"])
        async with ctx.once(str(form.get("idempotency_key", ""))) as first:
            if not first:
                ctx.replayed(SECRET_SENT_BEFORE)
                return ctx.redirect(ctx.url("api_keys"))
            issued = await ctx.audited(
                "createApiKey",
                {"name": name, "scopes": scopes},
                lambda: create_api_key(
                    ctx.scope.brand, name, scopes, tenant_wide=ctx.can(Scope.PERSONS)
                ),
            )
    except DomainError as error:
        return await _list(ctx, 422, errors_of(error), name=name)
    # The secret goes into this response only (never a redirect, a session or a log).
    return shown_once(await _list(ctx, token=issued.token))


@page("/api-keys/{key_id}/revoke", "api_key_revoke", permission=Scope.ADMIN, methods=("POST",))
async def revoke(ctx: Ctx) -> Response:
    key_id = ctx.path_id("key_id") or 0
    try:
        key = await ctx.audited(
            "revokeApiKey", {"id": key_id}, lambda: revoke_api_key(ctx.scope, key_id)
        )
    except DomainError:
        return ctx.not_found()
    return ctx.redirect(ctx.url("api_keys"), ctx.gettext("API key revoked:") + " " + key.name)
