"""Brand API keys are looked up once per ``CACHE_SECONDS`` per process, and a
revocation still takes effect at the next request, whichever process made it."""

from __future__ import annotations

from datetime import UTC, datetime

from tessera.auth import api_keys
from tessera.auth.models import ApiKey
from tessera.testing import record_database

BRAND = "{ brand { code } }"


def bearer(token: str) -> dict[str, str]:
    return {"Authorization": f"Bearer {token}"}


def api_key_queries(queries: list[str]) -> list[str]:
    return [q for q in queries if "api_key" in q]


async def test_a_cached_key_is_not_looked_up_again(http, api_key, brand_a):
    token = await api_key(brand_a, "read")
    async with record_database() as first:
        assert (
            await http.post("/graphql", json={"query": BRAND}, headers=bearer(token))
        ).is_success
    async with record_database() as again:
        assert (
            await http.post("/graphql", json={"query": BRAND}, headers=bearer(token))
        ).is_success

    lookup = api_key_queries(first.statements)[0]
    assert '"prefix"' in lookup and '"brand"' in lookup  # by prefix, with the brand joined
    (check,) = api_key_queries(again.statements)
    assert '"prefix"' not in check and '"brand"' not in check and '"revoked_at"' in check
    assert len(again.round_trips) == 1  # the revocation check is the whole cost of auth


async def test_a_key_revoked_elsewhere_is_refused_at_once_though_cached(http, api_key, brand_a):
    token = await api_key(brand_a, "read")
    assert (await http.post("/graphql", json={"query": BRAND}, headers=bearer(token))).is_success
    key = await ApiKey.get(prefix=token.split("_")[1])
    assert api_keys._cache.get(api_keys._hash(token)) is not None

    # What another process's revoke_api_key writes; this process's cache is
    # not told.
    await ApiKey.filter(id=key.id).update(revoked_at=datetime.now(UTC))

    response = await http.post("/graphql", json={"query": BRAND}, headers=bearer(token))
    assert response.status_code == 401
    assert api_keys._cache.get(api_keys._hash(token)) is None


async def test_a_cached_entry_expires_and_the_oldest_leaves_a_full_cache(monkeypatch):
    now = [100.0]
    cache = api_keys._KeyCache(clock=lambda: now[0])
    principal = object()
    cache.put("a", principal)  # type: ignore[arg-type]
    now[0] += api_keys.CACHE_SECONDS
    assert cache.get("a") is principal
    now[0] += 0.5
    assert cache.get("a") is None

    monkeypatch.setattr(api_keys, "_CACHE_SIZE", 2)
    for digest in "xyz":
        cache.put(digest, principal)  # type: ignore[arg-type]
    assert [cache.get(d) for d in "xyz"] == [None, principal, principal]
