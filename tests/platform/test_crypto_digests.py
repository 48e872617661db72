"""Keyed digests of identity values: stable, keyed by the secret, and walled
by brand (blind index) or by tenant (person digest)."""

import hashlib
import hmac

from hypothesis import given
from hypothesis import strategies as st

from tessera.crypto import _keyed_digest, blind_index, tenant_digest


def test_blind_index_is_stable_and_differs_by_brand_kind_value_and_secret() -> None:
    digest = blind_index("s1", 1, "phone", "+8613800138000")
    assert digest == blind_index("s1", 1, "phone", "+8613800138000")
    assert len(digest) == 64
    others = {
        blind_index("s1", 2, "phone", "+8613800138000"),
        blind_index("s1", 1, "email", "+8613800138000"),
        blind_index("s1", 1, "phone", "+8613800138001"),
        blind_index("s2", 1, "phone", "+8613800138000"),
    }
    assert digest not in others and len(others) == 4


def test_tenant_digest_differs_from_the_brand_blind_index_and_by_tenant() -> None:
    digest = tenant_digest("s1", 1, "phone", "+8613800138000")
    assert digest == tenant_digest("s1", 1, "phone", "+8613800138000")
    assert digest != blind_index("s1", 1, "phone", "+8613800138000")
    assert digest != tenant_digest("s1", 2, "phone", "+8613800138000")


@given(st.binary(min_size=1, max_size=100), st.text(max_size=20), st.text(max_size=60))
def test_keyed_digest_is_hmac_sha256(key: bytes, kind: str, value: str) -> None:
    # Stored blind indexes were written with hmac.new: the faster form must
    # give the same digest for every key and value.
    expected = hmac.new(key, f"{kind}\x00{value}".encode(), hashlib.sha256).hexdigest()
    assert _keyed_digest(key, kind, value) == expected
