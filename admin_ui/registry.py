"""The page registry: a feature adds an admin page by decorating a handler with
:func:`page` in a module listed in ``PAGE_MODULES`` (``tessera.admin_ui``).
The registry gives every page the same sign-in, brand, permission and CSRF
checks, the shared layout, and its place in the navigation."""

from __future__ import annotations

from collections.abc import Awaitable, Callable
from dataclasses import dataclass
from typing import TYPE_CHECKING

from starlette.responses import Response

from tessera.admin_ui.i18n import N_
from tessera.auth.scopes import Scope

if TYPE_CHECKING:
    from tessera.admin_ui.context import Ctx

Handler = Callable[["Ctx"], Awaitable[Response]]

# Navigation groups (msgids) in the order the menu shows them; a page names one.
NAV_GROUPS = (N_("Overview"), N_("Members"), N_("Loyalty"), N_("Settings"))


@dataclass(frozen=True)
class Page:
    """One brand page at ``/admin/brands/{brand}<path>``."""

    path: str
    name: str
    handler: Handler
    permission: Scope
    methods: tuple[str, ...]
    title: str | None  # a msgid; pages without one are not in the menu
    nav_group: str | None


PAGES: list[Page] = []


def page(
    path: str,
    name: str,
    *,
    permission: Scope = Scope.READ,
    methods: tuple[str, ...] = ("GET",),
    title: str | None = None,
    nav_group: str | None = None,
) -> Callable[[Handler], Handler]:
    """Register ``handler`` for ``path``. ``permission`` is the API scope the
    same action needs through GraphQL; a role without it gets 403."""
    if nav_group is not None and nav_group not in NAV_GROUPS:
        raise ValueError(f"unknown nav group {nav_group!r}; use one of {NAV_GROUPS}")

    def register(handler: Handler) -> Handler:
        if any(p.name == name for p in PAGES):
            raise ValueError(f"an admin page called {name!r} is registered already")
        PAGES.append(Page(path, name, handler, permission, methods, title, nav_group))
        return handler

    return register


def menu(scopes: frozenset[Scope]) -> list[tuple[str, list[Page]]]:
    """The menu entries a role may open, grouped."""
    groups: list[tuple[str, list[Page]]] = []
    for group in NAV_GROUPS:
        pages = [
            p
            for p in PAGES
            if p.nav_group == group and p.title is not None and p.permission in scopes
        ]
        if pages:
            groups.append((group, pages))
    return groups
