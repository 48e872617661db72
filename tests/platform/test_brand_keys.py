"""The database's own brand wall on PostgreSQL: composite foreign keys
(migration ``0004_brand_keys``) refuse a row of one brand that points at a row
of another, whatever a service forgot (docs/operations.md, "Brand walls")."""

from __future__ import annotations

from datetime import UTC, datetime

import pytest
from asyncpg.exceptions import ForeignKeyViolationError
from tortoise import Tortoise, connections
from tortoise.exceptions import IntegrityError
from tortoise.transactions import in_transaction

from tessera import db
from tessera.models_base import BrandOwned
from tessera.scope import BrandScope
from tessera.tags.service import create_tag
from tessera.testing import brand_key_migrations


def test_every_link_between_brand_owned_rows_has_a_composite_key(tessera_runtime):
    links = set()
    for model in Tortoise.apps[db.APP_LABEL].values():
        if not issubclass(model, BrandOwned):
            continue
        for name in (*model._meta.fk_fields, *model._meta.o2o_fields):
            field = model._meta.fields_map[name]
            target = field.related_model  # type: ignore[attr-defined]
            if issubclass(target, BrandOwned):
                links.add(
                    (
                        model._meta.db_table,
                        field.source_field,  # type: ignore[attr-defined]
                        target._meta.db_table,
                        str(field.on_delete).replace("_", " "),  # type: ignore[attr-defined]
                    )
                )
    # A new link needs its composite key in a new migration (a `BRAND_LINKS` list and `statements()`, as 0004 has).
    assert links == {link for m in brand_key_migrations() for link in m.BRAND_LINKS}


def _on_postgres() -> bool:
    return connections.get("default").capabilities.dialect == "postgres"


async def _order(brand_id, member_id, **_):
    from tessera.orders.models import Order

    # A scoping slip through the ORM: a row built without the scope.
    return await Order.create(
        brand_id=brand_id,
        member_id=member_id,
        external_id=f"x-{member_id}",
        occurred_at=datetime.now(UTC),
        amount_paid=100,
        retail_amount=100,
        discount=0,
        units=1,
        fingerprint="x",
    )


async def _tag_assignment(brand_id, member_id, tag_id, **_):
    # A slip in raw SQL, as the bulk tagging writes it.
    await connections.get("default").execute_query(
        'INSERT INTO "tag_assignment" (brand_id, tag_id, member_id, source, created_at)'
        " VALUES ($1, $2, $3, 'manual', now())",
        [brand_id, tag_id, member_id],
    )


async def _ledger_entry(brand_id, member_id, account_id, **_):
    from tessera.assets.models import LedgerEntry

    return await LedgerEntry.create(
        brand_id=brand_id,
        member_id=member_id,
        account_id=account_id,
        kind="points",
        entry_type="earn",
        amount=5,
        balance_after=5,
        idempotency_key=f"x-{member_id}",
        fingerprint="x",
        occurred_at=datetime.now(UTC),
    )


CROSS_BRAND_WRITES = {
    "an order of B for A's member": _order,
    "a tag assignment of B on A's member": _tag_assignment,
    "a ledger entry of B for A's member": _ledger_entry,
}


# SQLite keeps single-column foreign keys (docs/operations.md, Brand walls).
@pytest.mark.postgres_only
@pytest.mark.parametrize("what", sorted(CROSS_BRAND_WRITES))
async def test_postgres_refuses_a_row_pointing_at_another_brand(what, brand_a, brand_b, new_member):
    from tessera.assets.models import AssetAccount

    a_member = await new_member(brand_a, name="A", external_id="a-1")
    b_member = await new_member(brand_b, name="B", external_id="b-1")
    b_tag = await create_tag(BrandScope(brand_b), "vip", "VIP")
    b_account = await AssetAccount.create(brand_id=brand_b.id, member_id=b_member.pk, kind="points")
    write = CROSS_BRAND_WRITES[what]
    refs = {"tag_id": b_tag.id, "account_id": b_account.id}
    with pytest.raises(IntegrityError, match="brand_fkey"):
        await write(brand_b.id, a_member.pk, **refs)
    # The same row for B's own member goes in: only the brand was wrong.
    await write(brand_b.id, b_member.pk, **refs)


@pytest.mark.postgres_only
async def test_the_twins_of_set_null_keys_are_checked_at_commit(tessera_runtime):
    """A NO ACTION twin checked at the delete itself may run before the
    single-column key's SET NULL (triggers go in the order of their names,
    which carry OIDs as text) and refuse the delete; at commit it follows it."""
    twins = [
        f"{table}_{column}_brand_fkey"
        for m in brand_key_migrations()
        for table, column, _, on_delete in m.BRAND_LINKS
        if on_delete == "SET NULL"
    ]
    assert twins
    rows = await connections.get("default").execute_query_dict(
        "SELECT conname, condeferrable, condeferred FROM pg_constraint WHERE conname = ANY($1)",
        [twins],
    )
    assert sorted((r["conname"], r["condeferrable"], r["condeferred"]) for r in rows) == sorted(
        (name, True, True) for name in twins
    )


@pytest.mark.postgres_only
async def test_a_row_pointing_at_another_brands_row_is_still_refused_at_commit(brand_a, brand_b):
    from tessera.tags.models import Tag
    from tessera.tags.service import create_group

    b_group = await create_group(BrandScope(brand_b), "life", "Lifecycle")
    # Refused by the commit: the driver's error, which the ORM translates
    # only for statements.
    with pytest.raises(ForeignKeyViolationError, match="tag_group_id_brand_fkey"):
        async with in_transaction():
            await Tag.create(brand_id=brand_a.id, code="x", name="X", group_id=b_group.id)
    assert not await Tag.filter(brand_id=brand_a.id).exists()
