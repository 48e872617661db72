"""Every mutation writes an audit log entry: who, what, when, brand, outcome."""

from __future__ import annotations

from tessera.audit.models import AuditLogEntry
from tessera.auth.models import ApiKey
from tessera.config import Environment, Settings
from tessera.schema import build_schema
from tessera.schema.audit import AuditMutation

SET = "mutation($input: SetFeatureInput!) { setFeature(input: $input) { errors { code } } }"


def test_every_mutation_field_carries_the_audit_extension():
    schema = build_schema(Settings(environment=Environment.TEST, secret_key="x" * 32))  # type: ignore[arg-type]
    fields = schema.schema_converter.type_map["Mutation"].definition.fields  # type: ignore[union-attr]
    assert fields
    for field in fields:
        assert any(isinstance(e, AuditMutation) for e in field.extensions), field.name


async def test_an_accepted_mutation_is_audited(gql, api_key, brand_a, brand_b):
    token = await api_key(brand_a, "admin")
    key = await ApiKey.get(prefix=token.split("_")[1])
    await gql(
        SET, {"input": {"component": "console_sms", "config": {"channel_label": "x"}}}, token=token
    )
    entry = await AuditLogEntry.get(brand_id=brand_a.id)
    assert (entry.action, entry.outcome) == ("setFeature", "ok")
    assert (entry.actor_kind, entry.actor_id) == ("api_key", str(key.id))
    assert entry.details["input"]["input"]["component"] == "console_sms"
    assert entry.created_at is not None
    assert await AuditLogEntry.filter(brand_id=brand_b.id).count() == 0


async def test_a_rejected_mutation_is_audited_without_config_values(gql, api_key, brand_a):
    token = await api_key(brand_a, "admin")
    data = await gql(
        SET, {"input": {"component": "nope", "config": {"password": "hunter2"}}}, token=token
    )
    assert data["setFeature"]["errors"][0]["code"] == "NOT_FOUND"
    entry = await AuditLogEntry.get(brand_id=brand_a.id)
    assert entry.outcome == "rejected"
    assert "hunter2" not in str(entry.details)
    assert entry.details["input"]["input"]["config"] == ["password"]


async def test_a_forbidden_mutation_is_audited(gql, api_key, brand_a):
    token = await api_key(brand_a, "read")
    body = await gql(SET, {"input": {"component": "console_sms"}}, token=token, errors_ok=True)
    assert body["errors"][0]["extensions"]["code"] == "FORBIDDEN"
    entry = await AuditLogEntry.get(brand_id=brand_a.id)
    assert (entry.action, entry.outcome) == ("setFeature", "forbidden")


async def test_when_the_audit_entry_cannot_be_written_nothing_commits(
    gql, api_key, brand_a, monkeypatch
):
    from tessera.audit import service as audit_service
    from tessera.features.models import BrandFeature

    token = await api_key(brand_a, "admin")
    real = audit_service.record

    async def broken(scope, action, outcome, *args, **kwargs):
        if outcome == "ok":
            raise RuntimeError("audit table unavailable")
        return await real(scope, action, outcome, *args, **kwargs)

    monkeypatch.setattr(audit_service, "record", broken)
    body = await gql(
        SET,
        {"input": {"component": "console_sms", "config": {"channel_label": "x"}}},
        token=token,
        errors_ok=True,
    )
    assert body["errors"][0]["extensions"]["code"] == "INTERNAL_SERVER_ERROR"
    assert await BrandFeature.filter(brand_id=brand_a.id).count() == 0
    # The failed call is still on record, in a transaction of its own.
    entry = await AuditLogEntry.get(brand_id=brand_a.id)
    assert (entry.action, entry.outcome) == ("setFeature", "failed")


async def test_a_batch_with_nul_is_refused_whole_and_audited(gql, api_key, brand_a, new_member):
    from tessera.orders.models import Order
    from tessera.schema.ids import encode_id

    token = await api_key(brand_a, "write")
    member = await new_member(brand_a, email="nul@example.com")
    order = {
        "occurredAt": "2024-05-01T10:00:00+08:00",
        "amountPaid": {"amount": "10.00", "currency": "CNY"},
        "memberId": encode_id("Member", member.id),
    }
    data = await gql(
        "mutation($i: RecordOrdersInput!) { recordOrders(input: $i) { errors { field code } } }",
        {"i": {"orders": [{**order, "externalId": "ok-1"}, {**order, "externalId": "bad\u0000"}]}},
        token=token,
    )
    assert data["recordOrders"]["errors"] == [
        {"field": ["input", "orders", "1", "externalId"], "code": "INVALID_CHARACTERS"}
    ]
    assert await Order.filter(brand_id=brand_a.id).count() == 0
    entry = await AuditLogEntry.get(brand_id=brand_a.id)
    assert (entry.action, entry.outcome) == ("recordOrders", "rejected")
    assert "\u0000" not in str(entry.details)
