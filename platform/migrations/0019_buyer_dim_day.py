from tortoise import migrations
from tortoise.migrations import operations as ops
from tortoise.fields.base import OnDelete
from tortoise import fields
from tortoise.indexes import Index

from tessera.migrations_data import forget_built_rollups, nothing


class Migration(migrations.Migration):
    dependencies = [('tessera', '0018_campaign_results_rollup')]

    initial = False

    operations = [
        ops.CreateModel(
            name='BuyerDimDay',
            fields=[
                ('brand', fields.ForeignKeyField('tessera.Brand', source_field='brand_id', db_constraint=True, to_field='id', related_name=False, on_delete=OnDelete.CASCADE)),
                ('id', fields.BigIntField(generated=True, primary_key=True, unique=True, db_index=True)),
                ('day', fields.DateField()),
                ('dim', fields.SmallIntField(description='1 store, 2 channel')),
                ('dim_key', fields.CharField(description="the store code or channel, '' if none", max_length=64)),
                ('prev_month', fields.DateField(null=True, description="first day of the month of the member's previous purchase there, at the earliest clip_month of the day")),
                ('buyers', fields.BigIntField()),
            ],
            options={'table': 'report_buyer_dim_day', 'app': 'tessera', 'indexes': [Index(fields=['brand_id', 'day'])], 'pk_attr': 'id', 'table_description': 'The members who bought at one store (``dim`` 1) or in one channel'},
            bases=['BrandOwned'],
        ),
        ops.RunPython(forget_built_rollups, nothing),
    ]
