"""What a caller is shown of a member's identity values.

Every GraphQL field that returns a phone, an email or a social id shows it
through :func:`shown`: masked (``+86138****8000``, ``a***@example.com``)
unless the caller holds the ``pii`` scope, in which case the value is shown
and the member's id is noted for the request's one audit entry
(:class:`AuditPersonalReads`), so a page of a hundred members costs one
insert, not a hundred. A member token sees its own member's values in full.
"""

from __future__ import annotations

from collections.abc import AsyncIterator

from graphql import GraphQLResolveInfo
from strawberry.extensions import SchemaExtension
from strawberry.types import Info

from tessera.audit import service as audit
from tessera.auth.scopes import Scope
from tessera.members import pii
from tessera.request_context import current_request_id


def shown(
    info: Info | GraphQLResolveInfo, member_id: int, kind: str, value: str | None
) -> str | None:
    if value is None or not pii.is_sealed(kind):
        return value
    if getattr(info.context.principal, "member_id", None) == member_id:
        return value  # a member's own token: their own data, not an operator's read
    if info.context.has(Scope.PII):
        info.context.personal_reads.add(member_id)
        return value
    return pii.mask(kind, value)


class AuditPersonalReads(SchemaExtension):
    """One audit entry per request that showed unmasked values, listing the members."""

    async def on_execute(self) -> AsyncIterator[None]:
        yield
        context = self.execution_context.context
        read = getattr(context, "personal_reads", None)
        if read:
            await audit.record(
                context.scope,
                pii.READ_ACTION,
                "ok",
                {"memberIds": sorted(read)},
                current_request_id(),
            )
