from tortoise import migrations
from tortoise.migrations import operations as ops
import functools
from json import dumps, loads
from tortoise.fields.base import OnDelete
from tortoise import fields

from tessera.migrations_data import BrandKeys

# A stored result's campaign is the same brand's (see 0004_brand_keys).
BRAND_LINKS = [("campaign_stored_results", "campaign_id", "campaign", "CASCADE")]
_keys = BrandKeys(BRAND_LINKS)
statements = _keys.statements


class Migration(migrations.Migration):
    dependencies = [("tessera", "0017_retention_rollups")]

    initial = False

    operations = [
        ops.CreateModel(
            name="AttributionDay",
            fields=[
                (
                    "brand",
                    fields.ForeignKeyField(
                        "tessera.Brand",
                        source_field="brand_id",
                        db_constraint=True,
                        to_field="id",
                        related_name=False,
                        on_delete=OnDelete.CASCADE,
                    ),
                ),
                (
                    "id",
                    fields.BigIntField(
                        generated=True, primary_key=True, unique=True, db_index=True
                    ),
                ),
                ("day", fields.DateField(description="the brand's local calendar day")),
                ("version", fields.BigIntField(default=0)),
            ],
            options={
                "table": "campaign_attribution_day",
                "app": "tessera",
                "unique_together": (("brand_id", "day"),),
                "pk_attr": "id",
                "table_description": "How often the facts of one of the brand's local days changed: bumped",
            },
            bases=["BrandOwned"],
        ),
        ops.CreateModel(
            name="StoredResults",
            fields=[
                (
                    "brand",
                    fields.ForeignKeyField(
                        "tessera.Brand",
                        source_field="brand_id",
                        db_constraint=True,
                        to_field="id",
                        related_name=False,
                        on_delete=OnDelete.CASCADE,
                    ),
                ),
                (
                    "id",
                    fields.BigIntField(
                        generated=True, primary_key=True, unique=True, db_index=True
                    ),
                ),
                (
                    "campaign",
                    fields.ForeignKeyField(
                        "tessera.Campaign",
                        source_field="campaign_id",
                        unique=True,
                        db_constraint=True,
                        to_field="id",
                        related_name=False,
                        on_delete=OnDelete.CASCADE,
                    ),
                ),
                ("days", fields.IntField(description="the attribution window computed")),
                (
                    "timezone",
                    fields.CharField(description="the brand's, naming the days", max_length=64),
                ),
                ("first_day", fields.DateField(description="the window's first local day")),
                ("last_day", fields.DateField(description="the window's last local day")),
                (
                    "versions",
                    fields.BigIntField(description="Σ versions of the window's days when computed"),
                ),
                (
                    "computed_at",
                    fields.DatetimeField(
                        description="taken before the statement ran",
                        auto_now=False,
                        auto_now_add=False,
                    ),
                ),
                (
                    "rows",
                    fields.JSONField(
                        default=list,
                        description="[group, day, members, orders, revenue]",
                        encoder=functools.partial(dumps, separators=(",", ":")),
                        decoder=loads,
                    ),
                ),
            ],
            options={
                "table": "campaign_stored_results",
                "app": "tessera",
                "pk_attr": "id",
                "table_description": "A closed campaign's attribution rows as the live statement gives them,",
            },
            bases=["BrandOwned"],
        ),
        ops.RunPython(_keys.apply, _keys.revert),
    ]
