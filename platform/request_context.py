"""The request id of the work in progress, for log lines and masked errors,
and what the request has already read of its brand's enabled features."""

from __future__ import annotations

import contextvars
import secrets

request_id_var: contextvars.ContextVar[str | None] = contextvars.ContextVar(
    "tessera_request_id", default=None
)
brand_var: contextvars.ContextVar[str | None] = contextvars.ContextVar(
    "tessera_brand", default=None
)

# (brand id, the brand's enabled features as one text): read with the API
# key's revocation check, so that plugin delivery after the request's commit
# can reuse what this process built for the same text instead of reading the
# features again (tessera.features.stamp).
features_var: contextvars.ContextVar[tuple[int, str] | None] = contextvars.ContextVar(
    "tessera_features", default=None
)


def new_request_id() -> str:
    return secrets.token_hex(8)


def current_request_id() -> str | None:
    return request_id_var.get()
