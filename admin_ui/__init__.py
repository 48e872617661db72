"""The admin web UI. It has no private API: pages call the same GraphQL schema
with the signed-in operator's permissions."""

from __future__ import annotations

from pathlib import Path

from starlette.requests import Request
from starlette.responses import HTMLResponse
from starlette.routing import Route
from starlette.templating import Jinja2Templates

_templates = Jinja2Templates(directory=str(Path(__file__).parent / "templates"))


async def home(request: Request) -> HTMLResponse:
    return _templates.TemplateResponse(request, "home.html", {"title": "Tessera admin"})


def routes() -> list[Route]:
    return [Route("/", home)]
