"""API scopes, each implying the ones before it: ``read`` (look), ``write``
(record what happens: members, orders, events, earning and spending),
``manage`` (run the programme: tiers, tags, segments, coupon templates, the
points policy, corrections), ``admin`` (set up the brand: plugins and their
secrets, member settings, keys and admin users).

``pii`` stands apart: a flag that no other scope implies and that implies
none, added to a key or role to see identity values (phones, emails, social
ids) unmasked; every such read is audited."""

from __future__ import annotations

from enum import StrEnum


class Scope(StrEnum):
    READ = "read"
    WRITE = "write"
    MANAGE = "manage"
    ADMIN = "admin"
    PII = "pii"


_IMPLIED = {
    Scope.READ: {Scope.READ},
    Scope.WRITE: {Scope.READ, Scope.WRITE},
    Scope.MANAGE: {Scope.READ, Scope.WRITE, Scope.MANAGE},
    Scope.ADMIN: {Scope.READ, Scope.WRITE, Scope.MANAGE, Scope.ADMIN},
    Scope.PII: {Scope.PII},
}


def expand(granted: list[str] | set[str]) -> frozenset[Scope]:
    result: set[Scope] = set()
    for name in granted:
        result |= _IMPLIED[Scope(name)]
    return frozenset(result)
