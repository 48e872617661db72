"""Every mutation writes an audit log entry, whichever resolver runs, because
the schema builder attaches this extension to every mutation field.

The entry is written in the mutation's own transaction, as its last insert:
if it cannot be written, nothing the mutation did commits. A mutation that
answers with ``errors`` changes nothing (API.md), so its transaction is
rolled back and the entry is written after the rollback, as for a refused or
failed call. One transaction, no savepoint around the resolver: the common
call, which succeeds, pays for no more than its own statements and the entry."""

from __future__ import annotations

import logging
import re
from typing import Any

from graphql import GraphQLError
from strawberry.extensions import FieldExtension
from strawberry.types import Info

from tessera.after_commit import enclosing_transaction
from tessera.audit import service as audit
from tessera.request_context import current_request_id

log = logging.getLogger("tessera.audit")
# What a text or JSON column cannot hold (NUL on PostgreSQL, lone surrogates).
_UNSTORABLE = re.compile(r"[\x00\ud800-\udfff]")


def _summarise(value: Any) -> Any:
    """The input as recorded: free-form config is reduced to the keys set, so
    secrets never reach the audit log."""
    if hasattr(value, "__dataclass_fields__") or hasattr(value, "__strawberry_definition__"):
        value = {k: getattr(value, k) for k in vars(value) if not k.startswith("_")}
    if isinstance(value, dict):
        return {
            _summarise(str(k)): _summarise(sorted(v))
            if k == "config" and isinstance(v, dict)
            else _summarise(v)
            for k, v in value.items()
        }
    if isinstance(value, list | tuple):
        return [_summarise(v) for v in value[:50]]
    if isinstance(value, str):
        return _UNSTORABLE.sub("\ufffd", value)
    if value is None or isinstance(value, bool | int | float):
        return value
    return str(value)


class _Rejected(Exception):
    """Rolls back the work of a mutation that answered with errors."""

    def __init__(self, result: Any) -> None:
        self.result = result


class AuditMutation(FieldExtension):
    async def resolve_async(self, next_: Any, source: Any, info: Info, **kwargs: Any) -> Any:
        if info.context.principal is None:
            return await next_(source, info, **kwargs)
        outcome = "failed"
        try:
            async with enclosing_transaction():
                result = await next_(source, info, **kwargs)
                if getattr(result, "errors", None):
                    raise _Rejected(result)
                await _record(info, kwargs, "ok")
            return result
        except _Rejected as rejected:
            # Rolled back; the entry goes in on its own, and if that fails the
            # call fails (unrecorded, as any call whose entry cannot be written).
            await _record(info, kwargs, "rejected")
            return rejected.result
        except GraphQLError as error:
            if (error.extensions or {}).get("code") == "FORBIDDEN":
                outcome = "forbidden"
            await _record_apart(info, kwargs, outcome)
            raise
        except Exception:
            await _record_apart(info, kwargs, "failed")
            raise


async def _record(info: Info, kwargs: dict[str, Any], outcome: str) -> None:
    await audit.record(
        info.context.principal.scope,
        info.field_name,
        outcome,
        {"input": _summarise(kwargs)},
        current_request_id(),
    )


async def _record_apart(info: Info, kwargs: dict[str, Any], outcome: str) -> None:
    """The entry of a call whose transaction rolled back, in a transaction of its own."""
    try:
        await _record(info, kwargs, outcome)
    except Exception:
        log.exception("could not write the audit entry for %s", info.field_name)
