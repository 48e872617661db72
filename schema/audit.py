"""Every mutation writes an audit log entry, whichever resolver runs, because
the schema builder attaches this extension to every mutation field."""

from __future__ import annotations

import logging
from typing import Any

from graphql import GraphQLError
from strawberry.extensions import FieldExtension
from strawberry.types import Info

from tessera.audit import service as audit
from tessera.request_context import current_request_id

log = logging.getLogger("tessera.audit")


def _summarise(value: Any) -> Any:
    """The input as recorded: free-form config is reduced to the keys set, so
    secrets never reach the audit log."""
    if hasattr(value, "__dataclass_fields__") or hasattr(value, "__strawberry_definition__"):
        value = {k: getattr(value, k) for k in vars(value) if not k.startswith("_")}
    if isinstance(value, dict):
        return {
            k: sorted(v) if k == "config" and isinstance(v, dict) else _summarise(v)
            for k, v in value.items()
        }
    if isinstance(value, list | tuple):
        return [_summarise(v) for v in value[:50]]
    if value is None or isinstance(value, bool | int | float | str):
        return value
    return str(value)


class AuditMutation(FieldExtension):
    async def resolve_async(self, next_: Any, source: Any, info: Info, **kwargs: Any) -> Any:
        outcome = "failed"
        try:
            result = await next_(source, info, **kwargs)
            outcome = "rejected" if getattr(result, "errors", None) else "ok"
            return result
        except GraphQLError as error:
            if (error.extensions or {}).get("code") == "FORBIDDEN":
                outcome = "forbidden"
            raise
        finally:
            principal = info.context.principal
            if principal is not None:
                try:
                    await audit.record(
                        principal.scope,
                        info.field_name,
                        outcome,
                        {"input": _summarise(kwargs)},
                        current_request_id(),
                    )
                except Exception:
                    log.exception("could not write the audit entry for %s", info.field_name)
