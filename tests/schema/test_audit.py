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
