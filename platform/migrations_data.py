"""What migrations need beyond the operations ``makemigrations`` writes:
data steps run between adding columns and dropping the old ones, the
PostgreSQL-only composite brand keys of new links, and an operation that
works around a SQLite limit. Kept out of the migration files
so they stay close to what ``makemigrations`` writes."""

from __future__ import annotations

import json
from typing import Any

from tortoise.migrations import operations as ops

from tessera import crypto
from tessera.config import get_settings

_BATCH = 1000
# As in tessera.members.pii, which reads the running process's settings: a
# migration runs before any runtime exists.
_SEALED_KINDS = {
    "phone",
    "email",
    "wechat_openid",
    "wechat_unionid",
    "alipay_user_id",
    "app_user_id",
}


class BrandKeys:
    """The composite brand keys of a migration's new links between brand-owned
    tables (docs/operations.md, "Brand walls"; 0004_brand_keys made the first):
    ``links`` are ``(table, column, target table, ON DELETE action)``;
    ``targets`` the tables that need their ``UNIQUE (brand_id, id)`` first.
    A migration exposes ``BRAND_LINKS`` and ``statements`` (the suite adds
    them to the tables it creates) and runs ``RunPython(keys.apply,
    keys.revert)``."""

    def __init__(self, links: list[tuple[str, str, str, str]], targets: tuple[str, ...] = ()):
        self.links = links
        self.targets = targets

    def statements(self) -> list[str]:
        sql = [
            f'ALTER TABLE "{t}" ADD CONSTRAINT "{t}_brand_id_id_key" UNIQUE ("brand_id", "id")'
            for t in self.targets
        ]
        for table, column, target, on_delete in self.links:
            sql.append(
                f'ALTER TABLE "{table}" ADD CONSTRAINT "{table}_{column}_brand_fkey" '
                f'FOREIGN KEY ("brand_id", "{column}") REFERENCES "{target}" ("brand_id", "id") '
                f"ON DELETE {on_delete}"
            )
        return sql

    async def apply(self, apps: Any, schema_editor: Any) -> None:
        client = schema_editor.client
        if client.capabilities.dialect != "postgres":
            return
        for statement in self.statements():
            await client.execute_script(statement)

    async def revert(self, apps: Any, schema_editor: Any) -> None:
        client = schema_editor.client
        if client.capabilities.dialect != "postgres":
            return
        for table, column, _, _ in reversed(self.links):
            await client.execute_script(
                f'ALTER TABLE "{table}" DROP CONSTRAINT "{table}_{column}_brand_fkey"'
            )
        for t in reversed(self.targets):
            await client.execute_script(f'ALTER TABLE "{t}" DROP CONSTRAINT "{t}_brand_id_id_key"')


class RemoveTableUniqueConstraint(ops.RemoveConstraint):
    """``RemoveConstraint`` of a ``unique_together`` made in ``CREATE TABLE``:
    SQLite keeps it as an automatic index that cannot be dropped, so there the
    table is rebuilt without it by the ``RemoveField`` that follows (which
    remakes the table from the state this operation leaves)."""

    async def database_forward(
        self, app_label: str, old_state: Any, new_state: Any, state_editor: Any = None
    ) -> None:
        if state_editor is not None and state_editor.client.capabilities.dialect == "sqlite":
            return
        await super().database_forward(app_label, old_state, new_state, state_editor)


class DropColumn(ops.RemoveField):
    """``RemoveField`` of a plain column of a table other tables reference.
    On SQLite Tortoise removes a field by rebuilding the table, and dropping
    the old table deletes, through ``ON DELETE CASCADE``, every row that
    references it (a migration runs in a transaction, where SQLite cannot
    turn foreign keys off): ``ALTER TABLE … DROP COLUMN`` instead."""

    async def database_forward(
        self, app_label: str, old_state: Any, new_state: Any, state_editor: Any = None
    ) -> None:
        if state_editor is not None and state_editor.client.capabilities.dialect == "sqlite":
            model = old_state.apps.get_model(f"{app_label}.{self.model_name}")
            column = model._meta.fields_db_projection[self.name]
            await state_editor.client.execute_script(
                f'ALTER TABLE "{model._meta.db_table}" DROP COLUMN "{column}"'
            )
            return
        await super().database_forward(app_label, old_state, new_state, state_editor)


def _marks(client: Any, count: int) -> list[str]:
    postgres = client.capabilities.dialect == "postgres"
    return [f"${i}" if postgres else "?" for i in range(1, count + 1)]


async def seal_identities(apps: Any, schema_editor: Any) -> None:
    """0010_encrypted_identities: seal the clear identity values and profile
    phones and emails under each brand's key version 1, index every identity,
    and give existing owners the ``pii`` scope their role now carries."""
    client = schema_editor.client
    secret = get_settings().secret()
    a, b, c, d = _marks(client, 4)
    last = 0
    while True:
        rows = await client.execute_query_dict(
            f"SELECT id, brand_id, kind, value FROM member_identity WHERE id > {a} "
            f"ORDER BY id LIMIT {_BATCH}",
            [last],
        )
        if not rows:
            break
        last = rows[-1]["id"]
        updates = []
        for row in rows:
            brand, kind, value = row["brand_id"], row["kind"], row["value"]
            sealed = kind in _SEALED_KINDS
            updates.append(
                [
                    crypto.blind_index(secret, brand, kind, value),
                    crypto.seal(secret, brand, 1, kind, value) if sealed else None,
                    None if sealed else value,
                    row["id"],
                ]
            )
        await client.execute_many(
            f"UPDATE member_identity SET digest = {a}, sealed = {b}, reference = {c} "
            f"WHERE id = {d}",
            updates,
        )
    last = 0
    while True:
        rows = await client.execute_query_dict(
            f"SELECT id, brand_id, phone, email FROM member WHERE id > {a} "
            "AND (phone IS NOT NULL OR email IS NOT NULL) "
            f"ORDER BY id LIMIT {_BATCH}",
            [last],
        )
        if not rows:
            break
        last = rows[-1]["id"]
        await client.execute_many(
            f"UPDATE member SET phone_sealed = {a}, email_sealed = {b} WHERE id = {c}",
            [
                [
                    *(
                        crypto.seal(secret, row["brand_id"], 1, kind, row[kind])
                        if row[kind]
                        else None
                        for kind in ("phone", "email")
                    ),
                    row["id"],
                ]
                for row in rows
            ],
        )
    owners = await client.execute_query_dict(
        "SELECT id, scopes FROM admin_role WHERE role = 'owner'"
    )
    for owner in owners:
        scopes = owner["scopes"]
        scopes = json.loads(scopes) if isinstance(scopes, str) else list(scopes)
        if "pii" not in scopes:
            await client.execute_query(
                f"UPDATE admin_role SET scopes = {a} WHERE id = {b}",
                [json.dumps([*scopes, "pii"]), owner["id"]],
            )


async def forget_built_rollups(apps: Any, schema_editor: Any) -> None:
    """A brand built before a migration that adds rollup tables or columns
    has none of their rows: its reports read the orders until ``tessera
    reports rollup`` builds again."""
    await schema_editor.client.execute_script('DELETE FROM "report_rollup"')


async def nothing(apps: Any, schema_editor: Any) -> None:
    """The reverse of a data step that needs none."""
