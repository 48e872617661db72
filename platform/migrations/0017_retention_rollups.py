from tortoise import migrations
from tortoise.migrations import operations as ops
from tortoise.fields.base import OnDelete
from tortoise import fields
from tortoise.indexes import Index

from tessera.migrations_data import forget_built_rollups, nothing


class Migration(migrations.Migration):
    dependencies = [('tessera', '0016_report_rollups')]

    initial = False

    operations = [
        ops.CreateModel(
            name='BuyerDay',
            fields=[
                ('brand', fields.ForeignKeyField('tessera.Brand', source_field='brand_id', db_constraint=True, to_field='id', related_name=False, on_delete=OnDelete.CASCADE)),
                ('id', fields.BigIntField(generated=True, primary_key=True, unique=True, db_index=True)),
                ('day', fields.DateField()),
                ('prev_day', fields.DateField(null=True, description="the member's previous purchase day")),
                ('buyers', fields.BigIntField()),
            ],
            options={'table': 'report_buyer_day', 'app': 'tessera', 'indexes': [Index(fields=['brand_id', 'day'])], 'pk_attr': 'id', 'table_description': 'The members who bought on one local day, counted by the day of'},
            bases=['BrandOwned'],
        ),
        ops.CreateModel(
            name='CohortDay',
            fields=[
                ('brand', fields.ForeignKeyField('tessera.Brand', source_field='brand_id', db_constraint=True, to_field='id', related_name=False, on_delete=OnDelete.CASCADE)),
                ('id', fields.BigIntField(generated=True, primary_key=True, unique=True, db_index=True)),
                ('day', fields.DateField()),
                ('first_day', fields.DateField(description="the day of the member's first purchase")),
                ('buyers', fields.BigIntField()),
            ],
            options={'table': 'report_cohort_day', 'app': 'tessera', 'indexes': [Index(fields=['brand_id', 'day'])], 'pk_attr': 'id', 'table_description': "The members whose first purchase in the day's calendar month is on"},
            bases=['BrandOwned'],
        ),
        ops.AddField(
            model_name='SalesCube',
            name='gap_ms',
            field=fields.BigIntField(default=0),
        ),
        ops.AddField(
            model_name='SalesCube',
            name='repeat_orders',
            field=fields.BigIntField(default=0),
        ),
        ops.AddField(
            model_name='SalesDay',
            name='gap_ms',
            field=fields.BigIntField(default=0, description="Σ milliseconds from each of those to the member's previous order"),
        ),
        ops.AddField(
            model_name='SalesDay',
            name='repeat_orders',
            field=fields.IntField(default=0, description='orders placed after another order of the member'),
        ),
        ops.AddIndex(
            model_name='SalesDay',
            index=Index(fields=['brand_id', 'member_id', 'day']),
        ),
        ops.RunPython(forget_built_rollups, nothing),
    ]
