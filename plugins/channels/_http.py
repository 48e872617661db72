"""What the senders of this package share about calling a provider over HTTP
and about checking the secret a receipt callback carries."""

from __future__ import annotations

import base64
import hmac
from collections.abc import Mapping
from typing import Any

import httpx

from tessera import SendResult, http_client


async def call(
    method: str, url: str, *, timeout: float, **kwargs: Any
) -> httpx.Response | SendResult:
    """The provider's response, or a retryable failure when it could not be
    reached or did not answer in time: nothing was sent, a later try may be."""
    try:
        return await http_client().request(method, url, timeout=timeout, **kwargs)
    except httpx.TimeoutException as error:
        return SendResult.failed(
            f"no answer within {timeout:g}s ({type(error).__name__})", retryable=True
        )
    except httpx.TransportError as error:
        return SendResult.failed(f"could not reach {url}: {type(error).__name__}", retryable=True)


def json_or_none(response: httpx.Response) -> Any:
    try:
        return response.json()
    except ValueError:
        return None


def excerpt(response: httpx.Response, limit: int = 200) -> str:
    return response.text[:limit].strip() or response.reason_phrase


def shared_token_matches(
    expected: str, headers: Mapping[str, str], query: Mapping[str, str] | None
) -> bool:
    """Whether a callback carries ``expected``: as ``?token=`` in its URL, as a
    bearer token, or as the password of HTTP basic auth (a callback URL of the
    form ``https://tessera:TOKEN@host/...``). Compared in constant time."""
    offered: list[str] = []
    if query and "token" in query:
        offered.append(query["token"])
    authorization = header(headers, "authorization") or ""
    scheme, _, value = authorization.partition(" ")
    if scheme.lower() == "bearer":
        offered.append(value.strip())
    elif scheme.lower() == "basic":
        try:
            decoded = base64.b64decode(value.strip(), validate=True).decode()
        except (ValueError, UnicodeDecodeError):
            decoded = ""
        offered.append(decoded.partition(":")[2])
    token = header(headers, "x-tessera-token")
    if token is not None:
        offered.append(token)
    # Every candidate is compared, so the time taken says nothing of which matched.
    results = [hmac.compare_digest(o.encode(), expected.encode()) for o in offered]
    return any(results)


def header(headers: Mapping[str, str], name: str) -> str | None:
    value = headers.get(name)
    if value is not None:
        return value
    for key, found in headers.items():
        if key.lower() == name:
            return found
    return None
