"""Who may call what. Attach to a field: ``permission_classes=[CanWrite]``.

A refused caller gets :class:`~tessera.schema.errors.Forbidden`, so every
refusal carries ``extensions.code = "FORBIDDEN"`` from that one definition.
"""

from __future__ import annotations

from typing import Any

from strawberry.permission import BasePermission
from strawberry.types import Info

from tessera.auth.member_tokens import MemberPrincipal
from tessera.auth.scopes import Scope
from tessera.schema.errors import Forbidden


class Permission(BasePermission):
    error_class = Forbidden


class _RequireScope(Permission):
    needed: Scope

    def has_permission(self, source: Any, info: Info, **kwargs: Any) -> bool:
        return bool(info.context.has(self.needed))


class CanRead(_RequireScope):
    needed = Scope.READ
    message = "this needs an API key with the read scope"


class CanWrite(_RequireScope):
    needed = Scope.WRITE
    message = "this needs an API key with the write scope"


class CanManage(_RequireScope):
    needed = Scope.MANAGE
    message = "this needs an API key with the manage scope"


class CanAdmin(_RequireScope):
    needed = Scope.ADMIN
    message = "this needs an API key with the admin scope"


class IsMember(Permission):
    message = "this needs a member token"

    def has_permission(self, source: Any, info: Info, **kwargs: Any) -> bool:
        return isinstance(info.context.principal, MemberPrincipal)


class CanWriteOrIsMember(Permission):
    message = "this needs an API key with the write scope, or the member's own token"

    def has_permission(self, source: Any, info: Info, **kwargs: Any) -> bool:
        return isinstance(info.context.principal, MemberPrincipal) or info.context.has(Scope.WRITE)


class CanReadOrIsMember(Permission):
    """Brand keys with the read scope, and member tokens (for the few public
    facts a member's app needs, e.g. the brand's currency)."""

    message = "this needs an API key with the read scope, or a member token"

    def has_permission(self, source: Any, info: Info, **kwargs: Any) -> bool:
        return isinstance(info.context.principal, MemberPrincipal) or info.context.has(Scope.READ)


class CanReadPersons(_RequireScope):
    """Tenant-wide reads (docs/persons.md): only keys issued with the
    ``persons`` scope, which no brand scope implies."""

    needed = Scope.PERSONS
    message = "this needs an API key with the persons scope (issued by a tenant owner)"
