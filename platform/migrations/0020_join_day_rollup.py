from tortoise import migrations
from tortoise.migrations import operations as ops
from tortoise.fields.base import OnDelete
from tortoise import fields
from tortoise.indexes import Index

from tessera.migrations_data import forget_built_rollups, nothing


class Migration(migrations.Migration):
    dependencies = [('tessera', '0019_buyer_dim_day')]

    initial = False

    operations = [
        ops.CreateModel(
            name='JoinDay',
            fields=[
                ('brand', fields.ForeignKeyField('tessera.Brand', source_field='brand_id', db_constraint=True, to_field='id', related_name=False, on_delete=OnDelete.CASCADE)),
                ('id', fields.BigIntField(generated=True, primary_key=True, unique=True, db_index=True)),
                ('day', fields.DateField(description="the local day of the members' joined_at")),
                ('channel', fields.CharField(description='join_channel', max_length=32)),
                ('source', fields.CharField(description='join_source', max_length=100)),
                ('first_order_day', fields.DateField(null=True, description="the local day of the member's first order ever")),
                ('members', fields.BigIntField()),
            ],
            options={'table': 'report_join_day', 'app': 'tessera', 'indexes': [Index(fields=['brand_id', 'day'])], 'pk_attr': 'id', 'table_description': 'The members who joined on one local day, counted by join channel,'},
            bases=['BrandOwned'],
        ),
        ops.RunPython(forget_built_rollups, nothing),
    ]
