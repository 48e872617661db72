"""Turning an ``Authorization: Bearer`` token into a principal."""

from __future__ import annotations

from tessera.auth.api_keys import KeyPrincipal, authenticate

Principal = KeyPrincipal


async def authenticate_bearer(token: str) -> Principal | None:
    """The principal for any kind of bearer token Tessera issues, or None."""
    return await authenticate(token)
