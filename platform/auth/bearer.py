"""Turning an ``Authorization: Bearer`` token into a principal."""

from __future__ import annotations

from tessera.auth.api_keys import KEY_PREFIX, KeyPrincipal, authenticate
from tessera.auth.member_tokens import (
    MemberPrincipal,
    authenticate_member_token,
    looks_like_member_token,
)

Principal = KeyPrincipal | MemberPrincipal


async def authenticate_bearer(token: str) -> Principal | None:
    """The principal for any kind of bearer token Tessera issues, or None:
    a brand API key (``tsk_...``) or a member token (a JWT)."""
    if token.startswith(f"{KEY_PREFIX}_"):
        return await authenticate(token)
    if looks_like_member_token(token):
        return await authenticate_member_token(token)
    return None
