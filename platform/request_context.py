"""The request id of the work in progress, for log lines and masked errors."""

from __future__ import annotations

import contextvars
import secrets

request_id_var: contextvars.ContextVar[str | None] = contextvars.ContextVar(
    "tessera_request_id", default=None
)
brand_var: contextvars.ContextVar[str | None] = contextvars.ContextVar(
    "tessera_brand", default=None
)


def new_request_id() -> str:
    return secrets.token_hex(8)


def current_request_id() -> str | None:
    return request_id_var.get()
