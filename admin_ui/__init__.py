"""The admin web UI, mounted at ``/admin``: server-rendered pages that call the
same domain services as GraphQL, with each role mapped to the API scopes
GraphQL checks (docs/admin.md)."""

from __future__ import annotations

import importlib
from datetime import timedelta
from pathlib import Path

from starlette.applications import Starlette
from starlette.middleware import Middleware
from starlette.middleware.sessions import SessionMiddleware
from starlette.requests import Request
from starlette.responses import Response
from starlette.routing import BaseRoute, Mount, Route
from starlette.staticfiles import StaticFiles
from starlette.types import ASGIApp, Message, Receive, Scope, Send

from tessera.admin_ui.context import Ctx, csrf_ok
from tessera.admin_ui.i18n import N_
from tessera.admin_ui.registry import PAGES, Page
from tessera.config import Settings

STATIC = Path(__file__).parent / "static"
SESSION_COOKIE = "tessera_admin"
SESSION_LIFETIME = timedelta(hours=8)
# Modules whose pages are registered with tessera.admin_ui.registry.page; a new
# feature's pages are one more entry here.
PAGE_MODULES = (
    "tessera.admin_ui.pages.dashboard",
    "tessera.admin_ui.pages.members",
    "tessera.admin_ui.pages.member_actions",
    "tessera.admin_ui.pages.member_merge",
    "tessera.admin_ui.pages.api_keys",
    "tessera.admin_ui.pages.audit_log",
    "tessera.admin_ui.pages.plugins",
    "tessera.admin_ui.pages.admin_users",
    "tessera.admin_ui.pages.loyalty",
    "tessera.admin_ui.pages.coupon_templates",
    "tessera.admin_ui.pages.loyalty_lookup",
    "tessera.admin_ui.pages.tags",
    "tessera.admin_ui.pages.segments",
    "tessera.admin_ui.pages.webhooks",
    "tessera.admin_ui.pages.privacy",
    "tessera.admin_ui.pages.people",
    "tessera.admin_ui.pages.slots",
    "tessera.admin_ui.pages.campaign_results",
    "tessera.admin_ui.pages.reports",
    "tessera.admin_ui.pages.channels",
    "tessera.admin_ui.pages.campaigns",
)
# No inline script or style anywhere: every script and stylesheet is a file
# served from /admin/static.
CONTENT_SECURITY_POLICY = (
    "default-src 'none'; script-src 'self'; style-src 'self'; img-src 'self' data:; "
    "connect-src 'self'; form-action 'self'; frame-ancestors 'none'; base-uri 'none'"
)
SECURITY_HEADERS = [
    (b"content-security-policy", CONTENT_SECURITY_POLICY.encode()),
    (b"x-content-type-options", b"nosniff"),
    (b"x-frame-options", b"DENY"),
    (b"referrer-policy", b"same-origin"),
]


class SecurityHeaders:
    def __init__(self, app: ASGIApp) -> None:
        self.app = app

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        async def with_headers(message: Message) -> None:
            if message["type"] == "http.response.start":
                message["headers"] = [*message.get("headers", []), *SECURITY_HEADERS]
            await send(message)

        await self.app(scope, receive, with_headers)


def guarded(page: Page) -> Route:
    """The route for a brand page: signed in, CSRF on writes, a role on the
    brand (else 404, as if it did not exist), and the page's permission (else
    403, audited for writes)."""

    async def endpoint(request: Request) -> Response:
        ctx = await Ctx.load(request)
        if request.method not in ("GET", "HEAD") and not await csrf_ok(request):
            return ctx.refused(403, N_("The form has expired. Reload the page and try again."))
        if ctx.user is None:
            from tessera.admin_ui.signin import login_redirect

            return login_redirect(ctx)
        if not ctx.use_brand(request.path_params["brand"]):
            return ctx.not_found()
        if not ctx.can(page.permission):
            if request.method not in ("GET", "HEAD"):
                await ctx.audit(page.name, "forbidden", {"path": request.url.path})
            return ctx.refused(403, N_("Your role does not allow this."))
        return await page.handler(ctx)

    return Route(
        f"/brands/{{brand}}{page.path}", endpoint, methods=list(page.methods), name=page.name
    )


def routes() -> list[BaseRoute]:
    from tessera.admin_ui import signin

    for module in PAGE_MODULES:
        importlib.import_module(module)
    return [
        Mount("/static", app=StaticFiles(directory=str(STATIC)), name="static"),
        *signin.routes(),
        *(guarded(p) for p in PAGES),
    ]


def create_app(settings: Settings) -> Starlette:
    return Starlette(
        routes=routes(),
        middleware=[
            Middleware(SecurityHeaders),
            Middleware(
                SessionMiddleware,
                secret_key=settings.secret(),
                session_cookie=SESSION_COOKIE,
                max_age=int(SESSION_LIFETIME.total_seconds()),
                path="/admin",
                same_site="lax",
                https_only=not settings.development,
            ),
        ],
    )
