"""What every resolver receives as ``info.context``."""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

from starlette.requests import Request

from tessera.auth.scopes import Scope
from tessera.config import Settings
from tessera.scope import BrandScope


@dataclass
class RequestContext:
    request: Request | None
    settings: Settings
    principal: Any  # tessera.auth principal: KeyPrincipal, or a member principal
    request_id: str | None
    loaders: dict[Any, Any] = field(default_factory=dict)
    # Members whose unmasked identity values this request showed (audited once).
    personal_reads: set[int] = field(default_factory=set)

    @property
    def scope(self) -> BrandScope:
        scope: BrandScope = self.principal.scope
        return scope

    def has(self, needed: Scope) -> bool:
        return needed in getattr(self.principal, "scopes", frozenset())

    def loader(self, key: Any, factory: Any) -> Any:
        """One dataloader per kind per request (created on first use)."""
        if key not in self.loaders:
            self.loaders[key] = factory()
        return self.loaders[key]
