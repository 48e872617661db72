"""Child process of test_migrations.py: migrate a database to 0007 (identities
in clear) and put a brand, a member with identities and an owner role in it,
filling every other NOT NULL column with a plain value of its type."""

from __future__ import annotations

import asyncio
import json
import sys
from datetime import UTC, datetime
from typing import Any

from tortoise import Tortoise, connections
from tortoise.migrations.api.migrate import migrate

from tessera.db import tortoise_config

NOW = datetime(2026, 1, 1, tzinfo=UTC)


async def _columns(conn: Any, table: str) -> dict[str, tuple[str, bool]]:
    """Column -> (type, required) of the table as it is now."""
    if conn.capabilities.dialect == "postgres":
        rows = await conn.execute_query_dict(
            "SELECT column_name AS name, data_type AS type, "
            "is_nullable = 'NO' AND column_default IS NULL AS required "
            "FROM information_schema.columns WHERE table_name = $1",
            [table],
        )
        return {r["name"]: (r["type"].lower(), r["required"]) for r in rows}
    _, rows = await conn.execute_query(f'PRAGMA table_info("{table}")')
    return {r["name"]: (r["type"].lower(), bool(r["notnull"]) and not r["pk"]) for r in rows}


def _plain(kind: str, postgres: bool) -> Any:
    if "json" in kind:
        return "{}"
    if "time" in kind or "date" in kind:
        return NOW if postgres else NOW.isoformat()
    if any(word in kind for word in ("int", "numeric", "decimal", "real", "double")):
        return 0
    if "bool" in kind:
        return False
    return ""


async def insert(table: str, **given: Any) -> int:
    conn = connections.get("default")
    postgres = conn.capabilities.dialect == "postgres"
    values = dict(given)
    for name, (kind, required) in (await _columns(conn, table)).items():
        if required and name not in values and name != "id":
            values[name] = _plain(kind, postgres)
    marks = [f"${i}" if postgres else "?" for i in range(1, len(values) + 1)]
    casts = [
        f"{m}::jsonb" if postgres and isinstance(v, str) and v.startswith(("[", "{")) else m
        for m, v in zip(marks, values.values(), strict=True)
    ]
    rows = await conn.execute_query_dict(
        f'INSERT INTO "{table}" ({", ".join(values)}) VALUES ({", ".join(casts)}) RETURNING id',
        list(values.values()),
    )
    return int(rows[0]["id"])


async def main(url: str) -> None:
    await migrate(config=tortoise_config(url), target="tessera.0007_admin_form_submission")
    await Tortoise.init(config=tortoise_config(url))
    try:
        tenant = await insert("tenant", code="t", name="T")
        brand = await insert("brand", tenant_id=tenant, code="b", name="B", currency="CNY")
        member = await insert(
            "member",
            brand_id=brand,
            phone="+8613800138000",
            email="li@example.com",
            card_number="80000001",
            external_id="crm-1",
            interests="[]",
            attributes="{}",
            joined_at=NOW if "postgres" in url else NOW.isoformat(),
        )
        for kind, value in (
            ("phone", "+8613800138000"),
            ("email", "li@example.com"),
            ("wechat_openid", "oX1aAbCdEfGh9f2Q"),
            ("card_number", "80000001"),
            ("external_id", "crm-1"),
        ):
            await insert(
                "member_identity", brand_id=brand, member_id=member, kind=kind, value=value
            )
        user = await insert("admin_user", tenant_id=tenant, email="o@example.com", is_active=True)
        await insert(
            "admin_role", brand_id=brand, admin_user_id=user, role="owner", scopes='["admin"]'
        )
        print(json.dumps({"brand": brand, "member": member}))
    finally:
        await Tortoise.close_connections()


if __name__ == "__main__":
    asyncio.run(main(sys.argv[1]))
