"""Keyed digests of identity values: stable, keyed by the secret, and walled
by brand (blind index) or by tenant (person digest)."""

from tessera.crypto import blind_index, tenant_digest


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
