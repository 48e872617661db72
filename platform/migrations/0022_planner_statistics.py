"""PostgreSQL samples the tables that per-member look-ups read after 1 % of
their rows changed, not autovacuum's default 10 %.

The planner knows a brand only from the last ``ANALYZE``; a brand whose rows
came since counts as one row, every index leading with ``brand_id`` then
costs about the same, and a look-up by member can be planned on the
(brand, time) index and read all the brand's rows for each member
(docs/operations.md, "Scaling"). On tables shared with much larger brands a
new brand stays unknown until a tenth of the table has changed; this makes it
a hundredth. Nothing to do on SQLite, which plans without statistics."""

from tortoise import migrations
from tortoise.migrations import operations as ops

# The brand-owned tables read member by member on the hot paths (an order's
# member and statistics, a batch's first orders, identities, balances, tags).
TABLES = (
    "member",
    "member_identity",
    "person_identity",
    "sales_order",
    "order_line",
    "member_stats",
    "asset_account",
    "ledger_entry",
    "points_lot",
    "tag_assignment",
    "segment_membership",
    "member_tier_state",
    "behaviour_event",
)
SCALE_FACTOR = 0.01


async def _alter_each(schema_editor: object, clause: str) -> None:
    client = schema_editor.client  # type: ignore[attr-defined]
    if client.capabilities.dialect != "postgres":
        return
    for table in TABLES:
        await client.execute_script(f'ALTER TABLE "{table}" {clause}')


async def apply(apps: object, schema_editor: object) -> None:
    await _alter_each(schema_editor, f"SET (autovacuum_analyze_scale_factor = {SCALE_FACTOR})")


async def revert(apps: object, schema_editor: object) -> None:
    await _alter_each(schema_editor, "RESET (autovacuum_analyze_scale_factor)")


class Migration(migrations.Migration):
    dependencies = [("tessera", "0021_stored_stage_flows")]

    initial = False

    operations = [ops.RunPython(apply, revert)]
