"""PostgreSQL backstop for the brand wall (docs/operations.md, "Brand walls").

Every foreign key from a brand-owned row to another brand-owned row gets a
composite twin, ``(brand_id, member_id) -> member(brand_id, id)``, over a
unique ``(brand_id, id)`` on the referenced table: the database itself then
refuses a row of one brand pointing at another brand's row, whatever a
service forgot. They are also the keys Citus needs to co-locate every
brand-owned table on ``brand_id``.

The ORM cannot declare composite foreign keys, so this is SQL, run on
PostgreSQL only; SQLite keeps its single-column keys. The single-column keys
stay: they carry the ORM's ON DELETE behaviour (SET NULL cannot name one
column of a composite key before PostgreSQL 15), so the composite twin of a
SET NULL key is NO ACTION, checked after the SET NULL has run.
"""

from tortoise import migrations
from tortoise.migrations import operations as ops

# (table, column, referenced table, ON DELETE of the composite key)
BRAND_LINKS = [
    ("asset_account", "member_id", "member", "CASCADE"),
    ("behaviour_event", "member_id", "member", "CASCADE"),
    ("check_in", "member_id", "member", "CASCADE"),
    ("coupon", "member_id", "member", "CASCADE"),
    ("coupon", "template_id", "coupon_template", "RESTRICT"),
    ("coupon_allowance", "member_id", "member", "CASCADE"),
    ("coupon_allowance", "template_id", "coupon_template", "CASCADE"),
    ("coupon_redemption", "coupon_id", "coupon", "CASCADE"),
    ("coupon_redemption", "member_id", "member", "CASCADE"),
    ("coupon_redemption", "order_id", "sales_order", "SET NULL"),
    ("held_coupon", "coupon_id", "coupon", "CASCADE"),
    ("held_coupon", "hold_id", "reward_hold", "CASCADE"),
    ("ledger_entry", "account_id", "asset_account", "CASCADE"),
    ("ledger_entry", "member_id", "member", "CASCADE"),
    ("member_identity", "member_id", "member", "CASCADE"),
    ("member_lifecycle", "member_id", "member", "CASCADE"),
    ("member_stats", "member_id", "member", "CASCADE"),
    ("member_tier_state", "lapsed_tier_id", "tier_definition", "SET NULL"),
    ("member_tier_state", "member_id", "member", "CASCADE"),
    ("member_tier_state", "tier_id", "tier_definition", "RESTRICT"),
    ("order_line", "order_id", "sales_order", "CASCADE"),
    ("points_lot", "account_id", "asset_account", "CASCADE"),
    ("points_lot", "entry_id", "ledger_entry", "CASCADE"),
    ("referral", "referee_id", "member", "CASCADE"),
    ("referral", "referrer_id", "member", "CASCADE"),
    ("refund", "member_id", "member", "CASCADE"),
    ("refund", "order_id", "sales_order", "CASCADE"),
    ("refund_line", "order_line_id", "order_line", "CASCADE"),
    ("refund_line", "refund_id", "refund", "CASCADE"),
    ("reward_hold", "member_id", "member", "CASCADE"),
    ("reward_hold", "order_id", "sales_order", "SET NULL"),
    ("sales_order", "member_id", "member", "CASCADE"),
    ("segment_membership", "member_id", "member", "CASCADE"),
    ("segment_membership", "segment_id", "segment", "CASCADE"),
    ("segment_refresh", "segment_id", "segment", "CASCADE"),
    ("segment_size_history", "segment_id", "segment", "CASCADE"),
    ("tag", "group_id", "tag_group", "SET NULL"),
    ("tag_assignment", "member_id", "member", "CASCADE"),
    ("tag_assignment", "tag_id", "tag", "CASCADE"),
    ("tier_history", "from_tier_id", "tier_definition", "SET NULL"),
    ("tier_history", "member_id", "member", "CASCADE"),
    ("tier_history", "to_tier_id", "tier_definition", "SET NULL"),
]


def referenced_tables() -> list[str]:
    return sorted({target for _, _, target, _ in BRAND_LINKS})


def statements() -> list[str]:
    """The SQL, in order: unique keys first, then the foreign keys using them."""
    sql = [
        f'ALTER TABLE "{table}" ADD CONSTRAINT "{table}_brand_id_id_key" UNIQUE ("brand_id", "id")'
        for table in referenced_tables()
    ]
    for table, column, target, on_delete in BRAND_LINKS:
        action = "NO ACTION" if on_delete == "SET NULL" else on_delete
        sql.append(
            f'ALTER TABLE "{table}" ADD CONSTRAINT "{table}_{column}_brand_fkey" '
            f'FOREIGN KEY ("brand_id", "{column}") REFERENCES "{target}" ("brand_id", "id") '
            f"ON DELETE {action}"
        )
    return sql


async def apply(apps: object, schema_editor: object) -> None:
    client = schema_editor.client  # type: ignore[attr-defined]
    if client.capabilities.dialect != "postgres":
        return
    for statement in statements():
        await client.execute_script(statement)


async def revert(apps: object, schema_editor: object) -> None:
    client = schema_editor.client  # type: ignore[attr-defined]
    if client.capabilities.dialect != "postgres":
        return
    for table, column, _, _ in reversed(BRAND_LINKS):
        await client.execute_script(
            f'ALTER TABLE "{table}" DROP CONSTRAINT "{table}_{column}_brand_fkey"'
        )
    for table in referenced_tables():
        await client.execute_script(
            f'ALTER TABLE "{table}" DROP CONSTRAINT "{table}_brand_id_id_key"'
        )


class Migration(migrations.Migration):
    dependencies = [("tessera", "0003_outbox")]

    operations = [ops.RunPython(apply, revert)]
