"""The two addresses outside GraphQL that channels need: providers post
delivery receipts, and members follow unsubscribe links.

``/channels/receipts/{brand}/{component}/{token}``: the token is signed by
Tessera for that brand and sender (so a guessed URL is refused before any
parsing); the sender's ``parse_receipts`` then checks the provider's own
signature. ``/channels/unsubscribe/{token}``: GET shows a confirmation
(mail scanners follow links; a GET must not unsubscribe), POST unsubscribes,
which is also RFC 8058's one-click ``List-Unsubscribe-Post``.
"""

from __future__ import annotations

import html
import logging

from starlette.requests import Request
from starlette.responses import HTMLResponse, JSONResponse, PlainTextResponse, Response
from starlette.routing import Mount, Route

from tessera import runtime
from tessera.channels import receipts, service
from tessera.features.models import BrandFeature
from tessera.features.service import load_config
from tessera.members.models import Member
from tessera.plugin_host.components import ChannelSender, ReceiptRefused
from tessera.scope import BrandScope
from tessera.tenancy.models import Brand

log = logging.getLogger("tessera.channels")

MAX_RECEIPT_BYTES = 1_000_000


async def receipt_endpoint(request: Request) -> Response:
    """A provider's receipts (POST), or its check of the address when it is
    saved in the provider's console (GET, WeChat's ``echostr``)."""
    component = request.path_params["component"]
    sender, scope = await _sender(request)
    if sender is None or scope is None:
        return JSONResponse({"error": "unknown receipt address"}, status_code=404)
    query = dict(request.query_params)
    if request.method == "GET":
        try:
            echo = sender.check_callback_url(query)
        except ReceiptRefused as refused:
            log.warning("callback check refused: %s", refused, extra={"component": component})
            return JSONResponse({"error": str(refused)}, status_code=403)
        if echo is None:
            return JSONResponse({"error": "this sender takes receipts by POST"}, status_code=405)
        return PlainTextResponse(echo)
    body = await request.body()
    if len(body) > MAX_RECEIPT_BYTES:
        return JSONResponse({"error": "too large"}, status_code=413)
    try:
        parsed = sender.parse_receipts(body, dict(request.headers), query)
    except ReceiptRefused as refused:
        log.warning("receipt refused: %s", refused, extra={"component": component})
        return JSONResponse({"error": str(refused)}, status_code=403)
    applied = await receipts.apply(scope, component, parsed)
    answer = sender.receipt_answer()
    if answer is not None:
        return Response(answer[0], media_type=answer[1])
    return JSONResponse({"received": len(parsed), "applied": applied})


async def _sender(request: Request) -> tuple[ChannelSender | None, BrandScope | None]:
    """The enabled sender a receipt address names (its token signed for that
    brand and sender, so a guessed URL finds nothing)."""
    brand_code = request.path_params["brand"]
    component = request.path_params["component"]
    if not service.receipt_token_valid(request.path_params["token"], brand_code, component):
        return None, None
    brand = await Brand.get_or_none(code=brand_code)
    if brand is None:
        return None, None
    scope = BrandScope(brand)
    rt = runtime.current()
    feature = await scope.query(BrandFeature).filter(component_key=component, enabled=True).first()
    registered = rt.host.component(component)
    if feature is None or registered is None or not issubclass(registered.cls, ChannelSender):
        return None, None
    return registered.cls(load_config(registered.cls, feature, rt.settings)), scope


_PAGE = """<!doctype html><html lang="zh-Hans"><head><meta charset="utf-8">
<meta name="viewport" content="width=device-width, initial-scale=1"><title>{title}</title>
<style>body{{font-family:system-ui,sans-serif;max-width:32rem;margin:3rem auto;padding:0 1rem}}
button{{font-size:1rem;padding:.5rem 1rem}}</style></head><body>{content}</body></html>"""


def _page(title: str, content: str, status: int = 200) -> HTMLResponse:
    return HTMLResponse(_PAGE.format(title=html.escape(title), content=content), status_code=status)


async def unsubscribe_endpoint(request: Request) -> Response:
    found = service.read_unsubscribe_token(request.path_params["token"])
    brand = await Brand.get_or_none(id=found[0]) if found else None
    member = await BrandScope(brand).get(Member, found[1]) if brand and found else None
    if found is None or brand is None or member is None:
        return _page("链接无效 / Invalid link", "<p>此链接无效。/ This link is not valid.</p>", 404)
    channel = found[2]
    name = html.escape(brand.name)
    if request.method == "GET":
        return _page(
            "退订 / Unsubscribe",
            f"<p>不再接收 {name} 的{html.escape(channel.value)}营销消息？<br>"
            f"Stop marketing messages from {name} by {html.escape(channel.value)}?</p>"
            '<form method="post"><button type="submit">退订 / Unsubscribe</button></form>',
        )
    await receipts.unsubscribe(BrandScope(brand), member.id, channel, "unsubscribe_link")
    return _page(
        "已退订 / Unsubscribed",
        f"<p>您已退订 {name} 的营销消息。/ You will no longer receive marketing messages "
        f"from {name} on this channel.</p>",
    )


def routes() -> Mount:
    return Mount(
        "/channels",
        routes=[
            Route(
                "/receipts/{brand}/{component}/{token}",
                receipt_endpoint,
                methods=["GET", "POST"],
            ),
            Route("/unsubscribe/{token}", unsubscribe_endpoint, methods=["GET", "POST"]),
        ],
    )
