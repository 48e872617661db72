from tortoise import migrations
from tortoise.migrations import operations as ops
from tortoise.fields.base import OnDelete
from tortoise import fields
from tortoise.indexes import Index

class Migration(migrations.Migration):
    dependencies = [('tessera', '0012_slots')]

    initial = False

    operations = [
        ops.CreateModel(
            name='ReportTarget',
            fields=[
                ('brand', fields.ForeignKeyField('tessera.Brand', source_field='brand_id', db_constraint=True, to_field='id', related_name=False, on_delete=OnDelete.CASCADE)),
                ('id', fields.IntField(generated=True, primary_key=True, unique=True, db_index=True)),
                ('report_type', fields.CharField(max_length=100)),
                ('figure', fields.CharField(max_length=64)),
                ('start', fields.DateField()),
                ('end', fields.DateField()),
                ('value', fields.CharField(description="exact decimal in the figure's unit: money in currency units, ratios as 0.25", max_length=40)),
                ('created_at', fields.DatetimeField(auto_now=False, auto_now_add=True)),
                ('updated_at', fields.DatetimeField(auto_now=True, auto_now_add=False)),
            ],
            options={'table': 'report_target', 'app': 'tessera', 'unique_together': (('brand_id', 'report_type', 'figure', 'start', 'end'),), 'pk_attr': 'id', 'table_description': 'A target for one figure of one report type over one period (local'},
            bases=['BrandOwned'],
        ),
        ops.AddIndex(
            model_name='Order',
            index=Index(fields=['brand_id', 'occurred_at']),
        ),
        ops.CreateModel(
            name='DirtyDay',
            fields=[
                ('brand', fields.ForeignKeyField('tessera.Brand', source_field='brand_id', db_constraint=True, to_field='id', related_name=False, on_delete=OnDelete.CASCADE)),
                ('id', fields.BigIntField(generated=True, primary_key=True, unique=True, db_index=True)),
                ('day', fields.DateField()),
                ('starts_at', fields.DatetimeField(auto_now=False, auto_now_add=False)),
                ('ends_at', fields.DatetimeField(auto_now=False, auto_now_add=False)),
                ('version', fields.IntField(default=0)),
            ],
            options={'table': 'report_dirty_day', 'app': 'tessera', 'unique_together': (('brand_id', 'day'),), 'pk_attr': 'id', 'table_description': 'A local day whose orders changed (recorded, refunded) since its'},
            bases=['BrandOwned'],
        ),
        ops.CreateModel(
            name='RollupState',
            fields=[
                ('brand', fields.ForeignKeyField('tessera.Brand', source_field='brand_id', db_constraint=True, to_field='id', related_name=False, on_delete=OnDelete.CASCADE)),
                ('id', fields.IntField(generated=True, primary_key=True, unique=True, db_index=True)),
                ('timezone', fields.CharField(max_length=64)),
                ('built_at', fields.DatetimeField(auto_now=False, auto_now_add=False)),
            ],
            options={'table': 'report_rollup', 'app': 'tessera', 'unique_together': (('brand_id',),), 'pk_attr': 'id', 'table_description': "The brand's rollup was built in full for ``timezone``: reports read"},
            bases=['BrandOwned'],
        ),
        ops.CreateModel(
            name='SalesDay',
            fields=[
                ('brand', fields.ForeignKeyField('tessera.Brand', source_field='brand_id', db_constraint=True, to_field='id', related_name=False, on_delete=OnDelete.CASCADE)),
                ('id', fields.BigIntField(generated=True, primary_key=True, unique=True, db_index=True)),
                ('day', fields.DateField(description="the brand's local calendar day")),
                ('starts_at', fields.DatetimeField(description="the day's local midnight (UTC instant)", auto_now=False, auto_now_add=False)),
                ('member_id', fields.BigIntField()),
                ('store_code', fields.CharField(default='', max_length=64)),
                ('channel', fields.CharField(default='', max_length=32)),
                ('orders', fields.IntField()),
                ('sales', fields.BigIntField(description='Σ amount paid − refunded, minor units')),
                ('units', fields.BigIntField(description='Σ units − refunded units')),
                ('paid', fields.BigIntField()),
                ('retail', fields.BigIntField()),
            ],
            options={'table': 'report_sales_day', 'app': 'tessera', 'indexes': [Index(fields=['brand_id', 'day'])], 'pk_attr': 'id', 'table_description': "The brand's orders of one local day summed per (member, store,"},
            bases=['BrandOwned'],
        ),
    ]
