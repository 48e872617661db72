"""The composite twins of the SET NULL keys (``0004_brand_keys``,
``0014_channels``) are checked at commit.

Such a twin is NO ACTION, meant to be checked after the single-column key's
SET NULL has emptied the column. Both are triggers fired after the delete, in
the order of their names, which carry each constraint's OID as text: where
the OID counter passed a power of ten between the two keys' creation (99,999
then 100,000), the check came first and refused the delete (seen in the
suite: deleting a tag group that has tags). Deferred to the end of the
transaction, the check always follows the SET NULL; a row of one brand
pointing at another brand's row is still refused, at commit."""

import importlib

from tortoise import migrations
from tortoise.migrations import operations as ops

# No new links (the suite adds the statements below after those of the
# migrations that made the keys).
BRAND_LINKS: list[tuple[str, str, str, str]] = []


def _set_null_twins() -> list[tuple[str, str]]:
    twins = []
    for name in ("0004_brand_keys", "0014_channels"):
        module = importlib.import_module(f"tessera.migrations.{name}")
        twins += [(t, c) for t, c, _, on_delete in module.BRAND_LINKS if on_delete == "SET NULL"]
    return twins


def statements(deferred: bool = True) -> list[str]:
    when = "DEFERRABLE INITIALLY DEFERRED" if deferred else "NOT DEFERRABLE"
    return [
        f'ALTER TABLE "{table}" ALTER CONSTRAINT "{table}_{column}_brand_fkey" {when}'
        for table, column in _set_null_twins()
    ]


async def _alter(schema_editor: object, deferred: bool) -> None:
    client = schema_editor.client  # type: ignore[attr-defined]
    if client.capabilities.dialect != "postgres":
        return
    for statement in statements(deferred):
        await client.execute_script(statement)


async def apply(apps: object, schema_editor: object) -> None:
    await _alter(schema_editor, deferred=True)


async def revert(apps: object, schema_editor: object) -> None:
    await _alter(schema_editor, deferred=False)


class Migration(migrations.Migration):
    dependencies = [("tessera", "0022_planner_statistics")]

    initial = False

    operations = [ops.RunPython(apply, revert)]
