"""The SSRF guard: which webhook URLs Tessera may POST to.

A webhook URL is the caller's choice, so without a guard a brand admin could
make Tessera's servers reach what only they can reach (a metadata service on
169.254.169.254, a database on localhost, the office network). Outside
development every address the host name resolves to must be public, and in
production the URL must be HTTPS. The check runs when a subscription is
saved and again before every attempt (the name may resolve elsewhere by
then). Redirects are never followed.
"""

from __future__ import annotations

import asyncio
import ipaddress
import socket
from urllib.parse import urlsplit

from tessera.config import Environment, Settings
from tessera.errors import DomainError

MAX_URL = 2000


def _public(address: ipaddress.IPv4Address | ipaddress.IPv6Address) -> bool:
    if isinstance(address, ipaddress.IPv6Address) and address.ipv4_mapped is not None:
        address = address.ipv4_mapped
    return address.is_global and not address.is_multicast


async def _addresses(host: str, port: int) -> list[ipaddress.IPv4Address | ipaddress.IPv6Address]:
    try:
        literal = ipaddress.ip_address(host.strip("[]"))
    except ValueError:
        pass
    else:
        return [literal]
    loop = asyncio.get_running_loop()
    infos = await loop.getaddrinfo(host, port, type=socket.SOCK_STREAM)
    return [ipaddress.ip_address(info[4][0]) for info in infos]


async def check_url(url: str, settings: Settings, field: list[str] | None = None) -> str:
    """``url`` if Tessera may POST to it, else a ``DomainError`` naming why:
    ``INVALID`` (not an http(s) URL), ``INSECURE_URL`` (http in production),
    ``UNREACHABLE_URL`` (the name does not resolve) or ``PRIVATE_ADDRESS``."""
    where = field or ["url"]
    url = url.strip()
    if len(url) > MAX_URL:
        raise DomainError("TOO_LONG", f"a URL has at most {MAX_URL} characters", where)
    try:
        parts = urlsplit(url)
        port = parts.port  # a port that is not a number raises here
    except ValueError:
        raise DomainError("INVALID", "give an http:// or https:// URL with a host", where) from None
    if parts.scheme not in ("http", "https") or not parts.hostname:
        raise DomainError("INVALID", "give an http:// or https:// URL with a host", where)
    if parts.username or parts.password:
        raise DomainError("INVALID", "a webhook URL cannot carry a user or password", where)
    if parts.scheme != "https" and settings.environment is Environment.PRODUCTION:
        raise DomainError("INSECURE_URL", "webhook URLs must use https", where)
    if settings.webhooks_reach_private_networks:
        return url
    try:
        found = await _addresses(parts.hostname, port or (443 if parts.scheme == "https" else 80))
    except (OSError, ValueError):
        raise DomainError(
            "UNREACHABLE_URL", f"the host {parts.hostname} does not resolve", where
        ) from None
    if not found or not all(_public(a) for a in found):
        raise DomainError(
            "PRIVATE_ADDRESS",
            f"{parts.hostname} resolves to a private, loopback or link-local address",
            where,
        )
    return url
