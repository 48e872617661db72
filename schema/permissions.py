"""Who may call what. Attach to a field: ``permission_classes=[CanWrite]``."""

from __future__ import annotations

from typing import Any

from strawberry.permission import BasePermission
from strawberry.types import Info

from tessera.auth.member_tokens import MemberPrincipal
from tessera.auth.scopes import Scope


class _RequireScope(BasePermission):
    needed: Scope
    error_extensions = {"code": "FORBIDDEN"}

    def has_permission(self, source: Any, info: Info, **kwargs: Any) -> bool:
        return bool(info.context.has(self.needed))


class CanRead(_RequireScope):
    needed = Scope.READ
    message = "this needs an API key with the read scope"


class CanWrite(_RequireScope):
    needed = Scope.WRITE
    message = "this needs an API key with the write scope"


class CanAdmin(_RequireScope):
    needed = Scope.ADMIN
    message = "this needs an API key with the admin scope"


class CanReadOrIsMember(BasePermission):
    """Brand keys with the read scope, and member tokens (for the few public
    facts a member's app needs, e.g. the brand's currency)."""

    message = "this needs an API key with the read scope, or a member token"
    error_extensions = {"code": "FORBIDDEN"}

    def has_permission(self, source: Any, info: Info, **kwargs: Any) -> bool:
        return isinstance(info.context.principal, MemberPrincipal) or info.context.has(Scope.READ)
