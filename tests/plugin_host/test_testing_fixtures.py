"""The ``tessera.testing`` fixtures hand a partner's test public things only:
ids the API takes, and errors importable from ``tessera``."""

from __future__ import annotations

import pytest

import tessera


async def test_new_member_gives_the_id_the_api_takes(brand_a, new_member, api_key, gql):
    member = await new_member(brand_a, name="Li Lei", phone="+8613800000000")
    token = await api_key(brand_a, "read")
    data = await gql(
        "query($id: ID!) { member(id: $id) { id name cardNumber } }", {"id": member.id}, token=token
    )
    assert data["member"] == {"id": member.id, "name": "Li Lei", "cardNumber": member.card_number}


async def test_new_member_pk_is_the_member_id_events_carry(brand_a, new_member, record_events):
    log = await record_events(brand_a)
    member = await new_member(brand_a, phone="+8613800000001")
    [joined] = log.named("member.joined")
    assert joined.payload["member_id"] == member.pk


async def test_new_member_refuses_bad_input_with_the_public_error(brand_a, new_member):
    with pytest.raises(tessera.DomainError) as refused:
        await new_member(brand_a, phone="12345")
    assert (refused.value.code, refused.value.field) == ("INVALID_PHONE", ["phone"])


async def test_enable_feature_refuses_with_the_public_error_naming_the_field(
    brand_a, enable_feature
):
    with pytest.raises(tessera.DomainError) as refused:
        await enable_feature(brand_a, "points.purchase", config={"points_per_unit": "-1"})
    assert refused.value.code == "INVALID_CONFIG"
    assert refused.value.field == ["config", "points_per_unit"]
