"""The export holds every fact about the member, as the database holds it,
in the documented shape; its link works once, until it expires."""

from __future__ import annotations

import json
from datetime import UTC, date, datetime, timedelta
from pathlib import Path
from typing import Any

import jsonschema
import pytest
from tortoise import Tortoise, connections, fields

from tessera.audit import service as audit
from tessera.db import APP_LABEL
from tessera.privacy import document, exports
from tessera.privacy.models import MemberExport
from tessera.scope import BrandScope
from tessera.webhooks.models import WebhookDelivery, WebhookSubscription

SCHEMA_FILE = Path(__file__).parents[2] / "docs" / "member-export-schema.json"
# Tables with a member column that are not the member's facts: the export
# itself and the hold on it; identities have a section of their own.
# The profile is the document's "member" (a tombstone points at another
# member), identities its "identities", the person link its "person".
NOT_EXPORTED = {
    "Member",
    "MemberExport",
    "LegalHold",
    "MemberIdentity",
    "PersonMember",
    "PersonIdentity",
}


def test_the_documented_schema_is_current(tessera_runtime):
    assert json.loads(SCHEMA_FILE.read_text()) == document.json_schema(), (
        "regenerate: python -P -m tessera.privacy.document > docs/member-export-schema.json"
    )


def test_every_table_about_members_has_a_section(tessera_runtime):
    sections = {s.model.__name__ for s in document.SECTIONS}
    about_members = {
        name
        for name, model in Tortoise.apps[APP_LABEL].items()
        if any(
            isinstance(
                f,
                fields.relational.ForeignKeyFieldInstance | fields.relational.OneToOneFieldInstance,
            )
            and f.related_model.__name__ == "Member"
            for f in model._meta.fields_map.values()
        )
    }
    # The others reach the member through a row of these (lines through orders...).
    assert about_members - NOT_EXPORTED <= sections


def _same(model: Any, name: str, stored: Any, exported: Any) -> bool:
    """Whether the raw database value and the exported one say the same."""
    field = model._meta.fields_map[name]
    if stored is None or exported is None:
        return stored is None and exported is None
    if isinstance(field, fields.DatetimeField):
        stored = stored if isinstance(stored, datetime) else datetime.fromisoformat(str(stored))
        stored = stored if stored.tzinfo else stored.replace(tzinfo=UTC)
        return stored == datetime.fromisoformat(exported)
    if isinstance(field, fields.DateField):
        return str(stored)[:10] == date.fromisoformat(exported).isoformat()
    if isinstance(field, fields.JSONField):
        return (json.loads(stored) if isinstance(stored, str) else stored) == exported
    if isinstance(field, fields.BooleanField):
        return bool(stored) == exported
    return stored == exported or str(stored) == str(exported)


async def _raw_rows(table: str, brand_id: int, ids: list[Any], key: str) -> dict[Any, dict]:
    conn = connections.get("default")
    if not ids:
        return {}
    postgres = conn.capabilities.dialect == "postgres"
    marks = ", ".join(f"${i + 2}" if postgres else "?" for i in range(len(ids)))
    rows = await conn.execute_query_dict(
        f'SELECT * FROM "{table}" WHERE brand_id = {"$1" if postgres else "?"} '
        f'AND "{key}" IN ({marks})',
        [brand_id, *ids],
    )
    return {row[key]: row for row in rows}


@pytest.mark.parametrize("seed", [3, 4])
async def test_export_equals_the_database_field_by_field(brand_a, rich_member, seed):
    rich = await rich_member(brand_a, seed)
    scope = rich.scope
    other = rich.others[0]
    await audit.record(scope, "createMember", "ok", {"input": {"phone": rich.member.phone}})
    await audit.record(scope, "tagMembers", "ok", {"input": {"memberIds": ["x"]}})
    hook = await scope.create(
        WebhookSubscription, url="https://example.com/h", event_types=["*"], secrets=""
    )
    for n, (member_id, kind) in enumerate(
        [
            (rich.member.id, "order.recorded"),
            (other, "order.recorded"),
            (rich.member.id, "tier.changed"),
        ]
    ):
        await scope.create(
            WebhookDelivery,
            delivery_id=f"00000000-0000-0000-0000-00000000000{n}",
            subscription_id=hook.id,
            event_type=kind,
            payload={"type": kind, "data": {"member_id": member_id, "n": n}},
        )
    doc = json.loads(json.dumps(await document.build(scope, rich.member.id)))

    jsonschema.Draft202012Validator(
        document.json_schema(), format_checker=jsonschema.Draft202012Validator.FORMAT_CHECKER
    ).validate(doc)
    # The rich member has rows in these at least.
    for name in ("orders", "order_lines", "behaviour_events", "ledger_entries", "points_lots",
                 "coupons", "coupon_allowances", "tags", "segment_memberships", "statistics",
                 "asset_accounts"):  # fmt: skip
        assert doc[name], name
    member_raw = await _raw_rows("member", brand_a.id, [rich.member.id], "id")
    from tessera.members import pii
    from tessera.members.models import Member, MemberIdentity

    raw_member = member_raw[rich.member.id]
    for name, value in doc["member"].items():
        if name in ("phone", "email"):  # stored sealed, exported in clear
            sealed = raw_member[f"{name}_sealed"]
            assert value == pii.reveal_column(brand_a.id, name, sealed), name
            assert value is None or value not in str(sealed)
            continue
        assert _same(Member, name, raw_member[name], value), name
    assert doc["member"]["phone"] == rich.member.phone and rich.member.phone
    identities = await scope.query(MemberIdentity).filter(member_id=rich.member.id)
    assert sorted((i["kind"], i["value"]) for i in doc["identities"]) == sorted(
        (i.kind, i.value) for i in identities
    )
    for section in document.SECTIONS:
        meta = section.model._meta
        key = meta.db_pk_column
        # Independently of the export's queries: the ids of the member's rows.
        by_member = "member_id" in meta.fields_db_projection
        rows = doc[section.name]
        exported_ids = [row[meta.pk_attr] for row in rows]
        if by_member:
            conn = connections.get("default")
            mark = "$1" if conn.capabilities.dialect == "postgres" else "?"
            mark2 = "$2" if conn.capabilities.dialect == "postgres" else "?"
            raw_ids = [
                r[key]
                for r in await conn.execute_query_dict(
                    f'SELECT "{key}" FROM "{meta.db_table}" WHERE brand_id = {mark} '
                    f"AND member_id = {mark2}",
                    [brand_a.id, rich.member.id],
                )
            ]
            assert sorted(exported_ids) == sorted(raw_ids), section.name
        stored = await _raw_rows(meta.db_table, brand_a.id, exported_ids, key)
        for row in rows:
            raw = stored[row[meta.pk_attr]]
            for name, value in row.items():
                column = meta.fields_db_projection[name]
                assert _same(section.model, name, raw[column], value), (section.name, name)
    # Nothing of another member.
    assert all(o["member_id"] == rich.member.id for o in doc["orders"])
    assert [d["payload"]["data"]["n"] for d in doc["webhook_deliveries"]] == [0, 2]
    assert [a["action"] for a in doc["audit_entries"]] == ["createMember"]
    for log in document.LOGS:
        meta = log.model._meta
        stored = await _raw_rows(meta.db_table, brand_a.id, [r["id"] for r in doc[log.name]], "id")
        for row in doc[log.name]:
            for name, value in row.items():
                column = meta.fields_db_projection[name]
                assert _same(log.model, name, stored[row["id"]][column], value), (log.name, name)


async def test_link_works_once_then_410(brand_a, rich_member, drain_outbox, http):
    rich = await rich_member(brand_a, 6)
    export = await exports.request_export(rich.scope, rich.member.id)
    assert export.status == "pending"
    await drain_outbox()
    export = await rich.scope.query(MemberExport).get(id=export.id)
    assert export.status == "ready" and export.document
    assert str(rich.member.phone) not in export.document  # encrypted at rest
    path = exports.download_path(export)
    assert path is not None

    first = await http.get(path)
    assert first.status_code == 200
    assert first.json()["member"]["phone"] == rich.member.phone
    assert (await http.get(path)).status_code == 410
    again = await rich.scope.query(MemberExport).get(id=export.id)
    assert again.status == "downloaded" and again.document == ""
    assert (await http.get(path[:-3] + "xyz")).status_code == 404


async def test_expired_link_gives_410_and_drops_the_document(
    brand_a, rich_member, drain_outbox, http
):
    rich = await rich_member(brand_a, 8)
    export = await exports.request_export(rich.scope, rich.member.id)
    await drain_outbox()
    export = await rich.scope.query(MemberExport).get(id=export.id)
    path = exports.download_path(export)
    assert path is not None
    with pytest.raises(exports.Gone):
        await exports.download(path.rsplit("/", 1)[1], now=export.expires_at + timedelta(seconds=1))
    assert (await http.get(path)).status_code == 410
    gone = await rich.scope.query(MemberExport).get(id=export.id)
    assert gone.status == "expired" and gone.document == ""


async def test_another_brand_cannot_read_or_ask(brand_a, brand_b, rich_member):
    from tessera.errors import DomainError

    rich = await rich_member(brand_a, 10)
    with pytest.raises(DomainError):
        await exports.request_export(BrandScope(brand_b), rich.member.id)
    export = await exports.request_export(rich.scope, rich.member.id)
    with pytest.raises(DomainError):
        await exports.require_export(BrandScope(brand_b), export.id)
