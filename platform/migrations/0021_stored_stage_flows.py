from tortoise import migrations
from tortoise.migrations import operations as ops
from tortoise.fields.base import OnDelete
from tortoise import fields
from tortoise.indexes import Index

from tessera.migrations_data import BrandKeys

# A stored flow's period is the same brand's (see 0004_brand_keys).
BRAND_LINKS = [("report_stage_flow", "period_id", "report_flow_period", "CASCADE")]
_keys = BrandKeys(BRAND_LINKS, targets=("report_flow_period",))
statements = _keys.statements


class Migration(migrations.Migration):
    dependencies = [("tessera", "0020_join_day_rollup")]

    initial = False

    operations = [
        ops.CreateModel(
            name="FlowPeriod",
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
                ("first_day", fields.DateField(description="the period's first local day")),
                ("last_day", fields.DateField(description="the period's last local day")),
                (
                    "timezone",
                    fields.CharField(description="the brand's, naming the days", max_length=64),
                ),
                (
                    "settings",
                    fields.CharField(
                        description="the lifecycle settings the stages read (fingerprint)",
                        max_length=200,
                    ),
                ),
                (
                    "signature",
                    fields.BigIntField(description="Σ versions of the days up to last_day"),
                ),
                ("computed_at", fields.DatetimeField(auto_now=False, auto_now_add=False)),
            ],
            options={
                "table": "report_flow_period",
                "app": "tessera",
                "unique_together": (("brand_id", "first_day", "last_day"),),
                "pk_attr": "id",
                "table_description": "The lifecycle report's stage flows of one closed calendar month or",
            },
            bases=["BrandOwned"],
        ),
        ops.CreateModel(
            name="StageFlow",
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
                    "period",
                    fields.ForeignKeyField(
                        "tessera.FlowPeriod",
                        source_field="period_id",
                        db_constraint=True,
                        to_field="id",
                        related_name=False,
                        on_delete=OnDelete.CASCADE,
                    ),
                ),
                ("s_from", fields.CharField(max_length=32)),
                ("s_to", fields.CharField(max_length=32)),
                ("members", fields.BigIntField()),
            ],
            options={
                "table": "report_stage_flow",
                "app": "tessera",
                "indexes": [Index(fields=["brand_id", "period_id"])],
                "pk_attr": "id",
                "table_description": "Members counted by (stage at the period's start, stage at its end)",
            },
            bases=["BrandOwned"],
        ),
        ops.RunPython(_keys.apply, _keys.revert),
    ]
