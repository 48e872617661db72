"""Signing in and out, the language setting and the brand switcher."""

from __future__ import annotations

from urllib.parse import urlencode, urlsplit

from starlette.requests import Request
from starlette.responses import Response
from starlette.routing import BaseRoute, Route

from tessera.admin_ui.context import Ctx, csrf_ok
from tessera.admin_ui.i18n import LOCALES, N_
from tessera.auth.admin_users import Throttled, sign_in
from tessera.auth.models import AdminUser


def safe_next(target: str | None) -> str | None:
    """``target`` when it is a path inside the admin UI, else None: a link
    cannot send a freshly signed-in user to another site."""
    if not target or not target.startswith("/admin/") or "\\" in target:
        return None
    parts = urlsplit(target)
    if parts.scheme or parts.netloc or target.startswith("//"):
        return None
    return target


def login_redirect(ctx: Ctx) -> Response:
    request = ctx.request
    here = request.url.path + (f"?{request.url.query}" if request.url.query else "")
    return ctx.redirect(ctx.url("login") + "?" + urlencode({"next": here}))


def _first_page(ctx: Ctx) -> str:
    if not ctx.brands:
        return ctx.url("login")
    return ctx.request.url_for("dashboard", brand=ctx.brands[0].brand.code).path


async def home(request: Request) -> Response:
    ctx = await Ctx.load(request)
    if ctx.user is None:
        return ctx.redirect(ctx.url("login"))
    if not ctx.brands:
        return ctx.refused(403, N_("You hold no role on any brand. Ask an owner to add you."))
    return ctx.redirect(_first_page(ctx))


async def login(request: Request) -> Response:
    ctx = await Ctx.load(request)
    next_path = safe_next(request.query_params.get("next"))
    if request.method == "GET":
        return ctx.render("login.html", next=next_path or "", email="", error=None)
    if not await csrf_ok(request):
        return ctx.refused(403, N_("The form has expired. Reload the page and try again."))
    form = await request.form()
    email = str(form.get("email", ""))
    password = str(form.get("password", ""))
    next_path = safe_next(str(form.get("next", ""))) or next_path
    ip = request.client.host if request.client else ""
    try:
        user = await sign_in(email, password, ip)
    except Throttled:
        message = N_("Too many failed sign-ins. Wait a few minutes and try again.")
        return ctx.render(
            "login.html", status=429, next=next_path or "", email=email, error=message
        )
    if user is None:
        return ctx.render(
            "login.html",
            status=401,
            next=next_path or "",
            email=email,
            error=N_("Wrong email or password."),
        )
    # A new session on sign-in: nothing from before (a planted token) carries over.
    request.session.clear()
    request.session["user_id"] = user.id
    signed_in = await Ctx.load(request)
    return ctx.redirect(next_path or _first_page(signed_in))


async def logout(request: Request) -> Response:
    ctx = await Ctx.load(request)
    if not await csrf_ok(request):
        return ctx.refused(403, N_("The form has expired. Reload the page and try again."))
    request.session.clear()
    return ctx.redirect(ctx.url("login"))


async def set_locale(request: Request) -> Response:
    """The user's language: kept on the user when signed in, else in the session."""
    ctx = await Ctx.load(request)
    if not await csrf_ok(request):
        return ctx.refused(403, N_("The form has expired. Reload the page and try again."))
    form = await request.form()
    chosen = str(form.get("locale", ""))
    if chosen in LOCALES:
        request.session["locale"] = chosen
        if ctx.user is not None:
            await AdminUser.filter(id=ctx.user.id).update(locale=chosen)
    back = safe_next(str(form.get("next", "")))
    return ctx.redirect(back or ctx.url("home"))


async def switch(request: Request) -> Response:
    """The brand switcher's target: only brands the user holds a role on."""
    ctx = await Ctx.load(request)
    if ctx.user is None:
        return login_redirect(ctx)
    code = request.query_params.get("brand", "")
    if not ctx.use_brand(code):
        return ctx.refused(404, N_("There is no such page."))
    return ctx.redirect(ctx.url("dashboard"))


def routes() -> list[BaseRoute]:
    return [
        Route("/", home, name="home"),
        Route("/login", login, methods=["GET", "POST"], name="login"),
        Route("/logout", logout, methods=["POST"], name="logout"),
        Route("/locale", set_locale, methods=["POST"], name="locale"),
        Route("/switch", switch, name="switch"),
    ]
