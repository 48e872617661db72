"""The brand's admin users and their roles (owners only, as the admin scope):
add a user or give an existing one a role, change a role, take it away —
through the same functions as `tessera create-admin-user`."""

from __future__ import annotations

from starlette.responses import Response

from tessera.admin_ui.context import STALE_FORM, Ctx, errors_of, shown_once, version_of
from tessera.admin_ui.i18n import N_
from tessera.admin_ui.registry import page
from tessera.auth.admin_users import (
    Role,
    add_admin_user,
    admin_roles,
    change_role,
    remove_role,
)
from tessera.auth.models import AdminRole
from tessera.auth.scopes import Scope
from tessera.errors import DomainError

TITLE = N_("Admin users and roles")
LAST_OWNER = N_("This is the brand's last owner. Make someone else owner first.")


def _version(role: AdminRole | None) -> str:
    return version_of(role.id, role.role) if role else ""


async def _list(
    ctx: Ctx,
    status: int = 200,
    errors: dict[str, list[str]] | None = None,
    added: tuple[str, str] | None = None,
    email: str = "",
    role: str = Role.VIEWER.value,
    row_errors: dict[int, list[str]] | None = None,
) -> Response:
    return ctx.render(
        "admin_users.html",
        status=status,
        title=TITLE,
        rows=[(r, u, _version(r)) for r, u in await admin_roles(ctx.scope)],
        roles=[r.value for r in Role],
        errors=errors or {},
        row_errors=row_errors or {},
        added=added,
        email=email,
        role=role,
    )


def _messages(ctx: Ctx, error: DomainError) -> list[str]:
    if error.code == "LAST_OWNER":
        return [ctx.gettext(LAST_OWNER)]
    return [message for found in errors_of(error).values() for message in found]


async def _current(ctx: Ctx, user_id: int) -> AdminRole | None:
    return await ctx.scope.query(AdminRole).filter(admin_user_id=user_id).first()


@page("/admin-users", "admin_users", permission=Scope.ADMIN, title=TITLE, nav_group="Settings")
async def admin_users(ctx: Ctx) -> Response:
    return await _list(ctx)


@page("/admin-users/new", "admin_user_add", permission=Scope.ADMIN, methods=("POST",))
async def add(ctx: Ctx) -> Response:
    form = await ctx.form()
    email = str(form.get("email", "")).strip()
    role = str(form.get("role", ""))
    details = {"email": email, "role": role}
    try:
        added = await ctx.audited(
            "grantAdminRole", details, lambda: add_admin_user(ctx.scope, email, role)
        )
    except DomainError as error:
        return await _list(ctx, 422, errors_of(error), email=email, role=role)
    if added.created:
        await ctx.audit("createAdminUser", "ok", {"email": added.user.email})
    if added.password is None:
        return ctx.redirect(
            ctx.url("admin_users"),
            ctx.gettext("Role given:") + f" {added.user.email} · {ctx.gettext(role)}",
        )
    # The password goes into this response only (never a redirect, a session or a log).
    return shown_once(await _list(ctx, added=(added.user.email, added.password)))


@page(
    "/admin-users/{admin_user_id}/role",
    "admin_user_role",
    permission=Scope.ADMIN,
    methods=("POST",),
)
async def set_role(ctx: Ctx) -> Response:
    user_id = ctx.path_id("admin_user_id") or 0
    current = await _current(ctx, user_id)
    if current is None:
        return ctx.not_found()
    if await ctx.stale(_version(current)):
        return await _list(ctx, 409, row_errors={user_id: [ctx.gettext(STALE_FORM)]})
    role = str((await ctx.form()).get("role", ""))
    try:
        await ctx.audited(
            "grantAdminRole",
            {"adminUser": user_id, "role": role},
            lambda: change_role(ctx.scope, user_id, role),
        )
    except DomainError as error:
        return await _list(ctx, 422, row_errors={user_id: _messages(ctx, error)})
    return ctx.redirect(ctx.url("admin_users"), ctx.gettext("Role changed."))


@page(
    "/admin-users/{admin_user_id}/remove",
    "admin_user_remove",
    permission=Scope.ADMIN,
    methods=("POST",),
)
async def remove(ctx: Ctx) -> Response:
    user_id = ctx.path_id("admin_user_id") or 0
    current = await _current(ctx, user_id)
    if current is None:
        return ctx.not_found()
    if await ctx.stale(_version(current)):
        return await _list(ctx, 409, row_errors={user_id: [ctx.gettext(STALE_FORM)]})
    try:
        user = await ctx.audited(
            "revokeAdminRole", {"adminUser": user_id}, lambda: remove_role(ctx.scope, user_id)
        )
    except DomainError as error:
        return await _list(ctx, 422, row_errors={user_id: _messages(ctx, error)})
    ctx.flash(ctx.gettext("Role removed:") + " " + user.email)
    if ctx.user is not None and user.id == ctx.user.id:
        # Without a role here the user can no longer open this brand.
        return ctx.redirect(ctx.url("home"))
    return ctx.redirect(ctx.url("admin_users"))
