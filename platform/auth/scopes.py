"""API scopes. ``admin`` implies ``write`` implies ``read``."""

from __future__ import annotations

from enum import StrEnum


class Scope(StrEnum):
    READ = "read"
    WRITE = "write"
    ADMIN = "admin"


_IMPLIED = {
    Scope.READ: {Scope.READ},
    Scope.WRITE: {Scope.READ, Scope.WRITE},
    Scope.ADMIN: {Scope.READ, Scope.WRITE, Scope.ADMIN},
}


def expand(granted: list[str] | set[str]) -> frozenset[Scope]:
    result: set[Scope] = set()
    for name in granted:
        result |= _IMPLIED[Scope(name)]
    return frozenset(result)
