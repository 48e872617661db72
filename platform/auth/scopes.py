"""API scopes, each implying the ones before it: ``read`` (look), ``write``
(record what happens: members, orders, events, earning and spending),
``manage`` (run the programme: tiers, tags, segments, coupon templates, the
points policy, corrections), ``admin`` (set up the brand: plugins and their
secrets, member settings, keys and admin users).

``persons`` stands apart: it is implied by none of them and implies none. It
lets a key read the persons of its brand's whole tenant (members of every
brand of the tenant that are one shopper, docs/persons.md). Only a tenant
owner (an admin user who owns every brand of the tenant) or the command line
may issue a key with it.

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
    PERSONS = "persons"
    PII = "pii"


_IMPLIED = {
    Scope.READ: {Scope.READ},
    Scope.WRITE: {Scope.READ, Scope.WRITE},
    Scope.MANAGE: {Scope.READ, Scope.WRITE, Scope.MANAGE},
    Scope.ADMIN: {Scope.READ, Scope.WRITE, Scope.MANAGE, Scope.ADMIN},
    Scope.PERSONS: {Scope.PERSONS},
    Scope.PII: {Scope.PII},
}

# The scopes of one brand, in order: what a brand's owner may grant.
BRAND_SCOPES = (Scope.READ, Scope.WRITE, Scope.MANAGE, Scope.ADMIN)


def expand(granted: list[str] | set[str]) -> frozenset[Scope]:
    result: set[Scope] = set()
    for name in granted:
        result |= _IMPLIED[Scope(name)]
    return frozenset(result)
