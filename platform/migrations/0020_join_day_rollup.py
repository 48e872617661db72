from tortoise import migrations
from tortoise.migrations import operations as ops
from tortoise.fields.base import OnDelete
from tortoise import fields
from tortoise.indexes import Index


async def forget_built_rollups(apps: object, schema_editor: object) -> None:
    # Rollups built before this table have no join days: the brand's reports
    # read the members and orders until `tessera reports rollup` builds again.
    client = schema_editor.client  # type: ignore[attr-defined]
    await client.execute_script('DELETE FROM "report_rollup"')


async def nothing(apps: object, schema_editor: object) -> None:
    return None


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
