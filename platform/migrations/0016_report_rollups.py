from tortoise import migrations
from tortoise.migrations import operations as ops
from tortoise.fields.base import OnDelete
from tortoise import fields
from tortoise.indexes import Index

from tessera.migrations_data import forget_built_rollups, nothing


class Migration(migrations.Migration):
    dependencies = [('tessera', '0015_campaigns')]

    initial = False

    operations = [
        ops.CreateModel(
            name='BuyerCount',
            fields=[
                ('brand', fields.ForeignKeyField('tessera.Brand', source_field='brand_id', db_constraint=True, to_field='id', related_name=False, on_delete=OnDelete.CASCADE)),
                ('id', fields.BigIntField(generated=True, primary_key=True, unique=True, db_index=True)),
                ('kind', fields.CharField(description='day, week, month or year', max_length=8)),
                ('first_day', fields.DateField(description="the period's first local day")),
                ('last_day', fields.DateField(description="the period's last local day")),
                ('dims', fields.SmallIntField(description='grouped by: 1 store, 2 channel, 4 card held')),
                ('store_code', fields.CharField(default='', max_length=64)),
                ('channel', fields.CharField(default='', max_length=32)),
                ('carded', fields.SmallIntField(default=0)),
                ('buyers', fields.BigIntField()),
            ],
            options={'table': 'report_buyer_count', 'app': 'tessera', 'indexes': [Index(fields=['brand_id', 'kind', 'first_day']), Index(fields=['brand_id', 'last_day'])], 'pk_attr': 'id', 'table_description': 'Distinct buyers of one whole period (a local day, Monday week,'},
            bases=['BrandOwned'],
        ),
        ops.CreateModel(
            name='SalesCube',
            fields=[
                ('brand', fields.ForeignKeyField('tessera.Brand', source_field='brand_id', db_constraint=True, to_field='id', related_name=False, on_delete=OnDelete.CASCADE)),
                ('id', fields.BigIntField(generated=True, primary_key=True, unique=True, db_index=True)),
                ('day', fields.DateField(description="the brand's local calendar day")),
                ('starts_at', fields.DatetimeField(description="the day's local midnight (UTC instant)", auto_now=False, auto_now_add=False)),
                ('store_code', fields.CharField(default='', max_length=64)),
                ('channel', fields.CharField(default='', max_length=32)),
                ('carded', fields.SmallIntField(description='1 when the buyer holds a card (a member) now')),
                ('orders', fields.BigIntField()),
                ('sales', fields.BigIntField(description='Σ amount paid − refunded, minor units')),
                ('units', fields.BigIntField(description='Σ units − refunded units')),
                ('paid', fields.BigIntField()),
                ('retail', fields.BigIntField()),
            ],
            options={'table': 'report_sales_cube', 'app': 'tessera', 'indexes': [Index(fields=['brand_id', 'day'])], 'pk_attr': 'id', 'table_description': "The brand's orders of one local day summed per (store, channel,"},
            bases=['BrandOwned'],
        ),
        ops.RunPython(forget_built_rollups, nothing),
    ]
