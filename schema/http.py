"""``/graphql`` over HTTP (API.md, Transport and auth).

Strawberry's view does the GraphQL-over-HTTP work; this subclass adds what it
leaves to us: bearer authentication (401 as a JSON GraphQL error), a body size
cap, JSON errors for malformed requests (a body that is not a JSON object
included), the ``application/graphql-response+json`` media type when the client
asks for it, and a GraphiQL page whose assets Tessera serves itself
(:func:`graphiql_assets`), so it works offline and where CDNs are blocked.
"""

from __future__ import annotations

from functools import cache
from pathlib import Path
from typing import Any

import orjson
from cross_web import HTTPException
from starlette.requests import Request
from starlette.responses import HTMLResponse, JSONResponse, Response
from starlette.routing import Mount
from starlette.staticfiles import StaticFiles
from starlette.types import Receive, Scope, Send
from strawberry.asgi import GraphQL

from tessera import collector
from tessera.auth.bearer import authenticate_bearer
from tessera.config import Settings
from tessera.request_context import brand_var, current_request_id
from tessera.schema.context import RequestContext

GRAPHQL_RESPONSE = "application/graphql-response+json"
STATIC = Path(__file__).parent / "static"
GRAPHIQL_ASSETS = "/graphiql"


def graphiql_assets() -> Mount:
    """The files GraphiQL's page loads (schema/static/vendor.sh vendors them)."""
    return Mount(GRAPHIQL_ASSETS, StaticFiles(directory=STATIC / "graphiql"), name="graphiql")


def _error(
    status: int, code: str, message: str, headers: dict[str, str] | None = None
) -> JSONResponse:
    body = {
        "errors": [
            {"message": message, "extensions": {"code": code, "requestId": current_request_id()}}
        ]
    }
    return JSONResponse(body, status_code=status, headers=headers)


class _BodyTooLarge(Exception):
    pass


class GraphQLEndpoint(GraphQL[RequestContext, None]):
    def __init__(self, schema: Any, settings: Settings) -> None:
        super().__init__(schema, graphql_ide="graphiql" if settings.development else None)
        self.settings = settings

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await _error(400, "BAD_REQUEST", "only HTTP is served here")(scope, receive, send)
            return
        request = Request(scope, receive)
        if self._wants_ide(request):
            await super().__call__(scope, receive, send)
            return
        response = await self._handle(request, scope, receive)
        await response(scope, receive, send)

    async def render_graphql_ide(self, request: Any) -> HTMLResponse:
        return HTMLResponse(_graphiql_page())

    def encode_json(self, data: object) -> str | bytes:
        """The answer as JSON by orjson, about ten times faster than the
        standard library on a page of members (UTF-8 as it is, not ``\\u``
        escapes); what orjson refuses (an integer beyond 64 bits in a JSON
        attribute, say) goes to the standard library as before."""
        try:
            return orjson.dumps(data)
        except TypeError:  # orjson.JSONEncodeError is one
            return super().encode_json(data)

    def decode_json(self, data: str | bytes) -> object:
        decoded = super().decode_json(data)
        # A list is a batch, refused further on with its own message.
        if not isinstance(decoded, dict | list):
            raise HTTPException(
                400, "the request body must be a JSON object with `query` (and `variables`)"
            )
        return decoded

    def _wants_ide(self, request: Request) -> bool:
        return (
            request.method == "GET"
            and self.graphql_ide is not None
            and "text/html" in request.headers.get("accept", "")
            and "query" not in request.query_params
        )

    async def _handle(self, request: Request, scope: Scope, receive: Receive) -> Response:
        header = request.headers.get("authorization", "")
        scheme, _, token = header.partition(" ")
        if scheme.lower() != "bearer" or not token.strip():
            return _error(
                401,
                "UNAUTHENTICATED",
                "send `Authorization: Bearer <API key or member token>`",
                {"WWW-Authenticate": "Bearer"},
            )
        principal = await authenticate_bearer(token.strip())
        if principal is None:
            return _error(
                401,
                "UNAUTHENTICATED",
                "the bearer token is unknown, expired or revoked",
                {"WWW-Authenticate": 'Bearer error="invalid_token"'},
            )
        brand_var.set(principal.scope.brand.code)

        limit = self.settings.limits.max_body_bytes
        declared = request.headers.get("content-length")
        if declared is not None and declared.isdigit() and int(declared) > limit:
            return _error(413, "REQUEST_TOO_LARGE", f"request body is over {limit} bytes")
        try:
            body = await _read_limited(receive, limit)
        except _BodyTooLarge:
            return _error(413, "REQUEST_TOO_LARGE", f"request body is over {limit} bytes")

        replayed = _replay(body)
        request = Request(scope, replayed)
        request.state.principal = principal
        try:
            # The answer's containers live until it is sent: no collector
            # walking them as it is built (tessera.collector.held).
            with collector.held():
                response: Response = await self.run(request)
        except HTTPException as exc:
            return _error(exc.status_code, "BAD_REQUEST", exc.reason)
        if (
            GRAPHQL_RESPONSE in request.headers.get("accept", "")
            and response.media_type == "application/json"
        ):
            response.headers["content-type"] = GRAPHQL_RESPONSE
        return response

    async def get_context(self, request: Any, response: Any) -> RequestContext:
        return RequestContext(
            request=request,
            settings=self.settings,
            principal=getattr(request.state, "principal", None),
            request_id=current_request_id(),
        )


async def _read_limited(receive: Receive, limit: int) -> bytes:
    chunks: list[bytes] = []
    size = 0
    while True:
        message = await receive()
        if message["type"] == "http.disconnect":
            break
        chunk = message.get("body", b"")
        size += len(chunk)
        if size > limit:
            raise _BodyTooLarge
        chunks.append(chunk)
        if not message.get("more_body", False):
            break
    return b"".join(chunks)


def _replay(body: bytes) -> Receive:
    sent = False

    async def receive() -> dict[str, Any]:
        nonlocal sent
        if sent:
            return {"type": "http.disconnect"}
        sent = True
        return {"type": "http.request", "body": body, "more_body": False}

    return receive


@cache
def _graphiql_page() -> str:
    # Read from the package once, not on every visit.
    return (
        (STATIC / "graphiql.html")
        .read_text(encoding="utf-8")
        .replace("{{ASSETS}}", GRAPHIQL_ASSETS)
    )
