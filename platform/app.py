"""The ASGI application factory (a composition root: it wires every layer)."""

from __future__ import annotations

import logging
import time
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager

from starlette.applications import Starlette
from starlette.middleware.cors import CORSMiddleware
from starlette.requests import Request
from starlette.responses import JSONResponse
from starlette.routing import Mount, Route
from starlette.types import ASGIApp, Message, Receive, Scope, Send
from tortoise import connections

from tessera import bootstrap, runtime
from tessera.channels.http import routes as channel_routes
from tessera.config import Settings, get_settings
from tessera.jobs.inline import InlineQueue
from tessera.jobs.inline_cron import InlineCron
from tessera.request_context import brand_var, features_var, new_request_id, request_id_var

log = logging.getLogger("tessera.http")


class RequestLogMiddleware:
    """Gives each request an id (``X-Request-ID``) and logs one line when it ends."""

    def __init__(self, app: ASGIApp) -> None:
        self.app = app

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        request_id = new_request_id()
        rid_token = request_id_var.set(request_id)
        brand_token = brand_var.set(None)
        features_token = features_var.set(None)
        started = time.perf_counter()
        status = 500

        async def send_with_id(message: Message) -> None:
            nonlocal status
            if message["type"] == "http.response.start":
                status = message["status"]
                message["headers"] = [
                    *message.get("headers", []),
                    (b"x-request-id", request_id.encode()),
                ]
            await send(message)

        try:
            await self.app(scope, receive, send_with_id)
        finally:
            log.info(
                "%s %s %s",
                scope["method"],
                scope["path"],
                status,
                extra={
                    "status": status,
                    "duration_ms": round((time.perf_counter() - started) * 1000, 2),
                    "path": scope["path"],
                },
            )
            request_id_var.reset(rid_token)
            brand_var.reset(brand_token)
            features_var.reset(features_token)


async def healthz(request: Request) -> JSONResponse:
    return JSONResponse({"status": "ok"})


async def readyz(request: Request) -> JSONResponse:
    checks: dict[str, str] = {}
    try:
        await connections.get("default").execute_query("SELECT 1")
        checks["database"] = "ok"
    except Exception as exc:
        checks["database"] = f"unreachable: {type(exc).__name__}"
    rt = runtime.current()
    if rt.settings.redis_url:
        checks["redis"] = "ok" if await rt.queue.ping() else "unreachable"
    ready = all(v == "ok" for v in checks.values())
    return JSONResponse(
        {"status": "ready" if ready else "not ready", "checks": checks},
        status_code=200 if ready else 503,
    )


def _inline_cron(rt: runtime.Runtime) -> InlineCron | None:
    """Without Redis there is no worker, so the API process keeps the schedule."""
    if rt.settings.redis_url or not isinstance(rt.queue, InlineQueue):
        return None
    from tessera.jobs.worker import CRON_JOBS

    return InlineCron(rt.queue, CRON_JOBS)


def create_app(
    settings: Settings | None = None, runtime: runtime.Runtime | None = None
) -> Starlette:
    """Build the app. With ``runtime`` given (tests, embedding) the caller owns
    start-up and shut-down; otherwise the app's lifespan does them."""
    from tessera.admin_ui import create_app as create_admin_app
    from tessera.privacy.http import routes as privacy_routes
    from tessera.schema import build_schema
    from tessera.schema.http import GraphQLEndpoint, graphiql_assets

    settings = settings or (runtime.settings if runtime else get_settings())
    schema = build_schema(settings)

    @asynccontextmanager
    async def lifespan(app: Starlette) -> AsyncIterator[None]:
        if runtime is not None:
            yield
            return
        try:
            rt = await bootstrap.start(settings)
        except Exception:
            # uvicorn then ends this process as a start-up failure; the line says why.
            log.exception("the API process could not start")
            raise
        cron = _inline_cron(rt)
        if cron is not None:
            cron.start()
        if rt.outbox.arq is None:
            # No worker without Redis: this process works off the outbox, in
            # the background, and (bootstrap.stop) drains it on shut-down.
            rt.outbox.start()
        try:
            yield
        finally:
            if cron is not None:
                await cron.stop()
            await bootstrap.stop(rt)

    app = Starlette(
        debug=False,
        routes=[
            Route("/healthz", healthz),
            Route("/readyz", readyz),
            Route("/graphql", GraphQLEndpoint(schema, settings), methods=["GET", "POST"]),
            Mount("/admin", app=create_admin_app(settings)),
            *privacy_routes(),
            channel_routes(),
            graphiql_assets(),
        ],
        lifespan=lifespan,
    )
    if settings.cors_origins:
        # A browser app sends its token in `Authorization`, not in cookies, so
        # credentials stay off and the preflight only has to allow that header.
        app.add_middleware(
            CORSMiddleware,
            allow_origins=settings.cors_origins,
            allow_methods=["GET", "POST"],
            allow_headers=["Authorization", "Content-Type", "X-Request-ID"],
            expose_headers=["X-Request-ID"],
            max_age=600,
        )
    app.add_middleware(RequestLogMiddleware)
    return app
