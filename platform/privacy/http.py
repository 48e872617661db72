"""``GET /privacy/exports/{token}``: an export's document, once.

The token is the credential (like a presigned URL): whoever holds the link
gets the file, once, before it expires; then the link answers 410 Gone."""

from __future__ import annotations

import json

from starlette.requests import Request
from starlette.responses import JSONResponse, Response
from starlette.routing import Route

from tessera.privacy import exports

_NO_STORE = {"Cache-Control": "no-store", "Referrer-Policy": "no-referrer"}


async def download_export(request: Request) -> Response:
    try:
        document = await exports.download(request.path_params["token"])
    except exports.Unknown:
        return JSONResponse({"error": "no such export"}, 404, headers=_NO_STORE)
    except exports.Gone:
        return JSONResponse(
            {"error": "this link was used already or has expired; ask for a new export"},
            410,
            headers=_NO_STORE,
        )
    name = f"member-{document['member_id']}-{document['brand']}.json"
    return Response(
        json.dumps(document, ensure_ascii=False, indent=1),
        media_type="application/json",
        headers={**_NO_STORE, "Content-Disposition": f'attachment; filename="{name}"'},
    )


def routes() -> list[Route]:
    return [Route(exports.DOWNLOAD_PATH + "{token}", download_export, methods=["GET"])]
