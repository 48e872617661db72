from tortoise import migrations
from tortoise.migrations import operations as ops
import functools
from json import dumps, loads
from tortoise.fields.base import OnDelete
from tortoise import fields
from tortoise.indexes import Index


# The composite brand key of the new link (see 0004_brand_keys); member has
# its ("brand_id", "id") key from 0004 already.
BRAND_LINKS = [("member_cluster", "member_id", "member", "CASCADE")]


def statements() -> list[str]:
    return [
        'ALTER TABLE "member_cluster" ADD CONSTRAINT "member_cluster_member_id_brand_fkey" '
        'FOREIGN KEY ("brand_id", "member_id") REFERENCES "member" ("brand_id", "id") '
        "ON DELETE CASCADE",
    ]


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
    await client.execute_script(
        'ALTER TABLE "member_cluster" DROP CONSTRAINT "member_cluster_member_id_brand_fkey"'
    )


class Migration(migrations.Migration):
    dependencies = [('tessera', '0011_member_merge')]

    initial = False

    operations = [
        ops.CreateModel(
            name='CatalogueItem',
            fields=[
                ('brand', fields.ForeignKeyField('tessera.Brand', source_field='brand_id', db_constraint=True, to_field='id', related_name=False, on_delete=OnDelete.CASCADE)),
                ('id', fields.BigIntField(generated=True, primary_key=True, unique=True, db_index=True)),
                ('sku', fields.CharField(max_length=64)),
                ('name', fields.CharField(default='', max_length=200)),
                ('category', fields.CharField(null=True, max_length=100)),
                ('tags', fields.JSONField(default=list, encoder=functools.partial(dumps, separators=(',', ':')), decoder=loads)),
                ('tag_text', fields.CharField(default='', max_length=2000)),
                ('price', fields.BigIntField(null=True, description='minor units')),
                ('active', fields.BooleanField(default=True)),
                ('created_at', fields.DatetimeField(auto_now=False, auto_now_add=True)),
                ('updated_at', fields.DatetimeField(auto_now=True, auto_now_add=False)),
            ],
            options={'table': 'catalogue_item', 'app': 'tessera', 'unique_together': (('brand_id', 'sku'),), 'pk_attr': 'id', 'table_description': 'An item the brand sells, as recommendations show it. Order lines add'},
            bases=['BrandOwned'],
        ),
        ops.CreateModel(
            name='ClusterInfo',
            fields=[
                ('brand', fields.ForeignKeyField('tessera.Brand', source_field='brand_id', db_constraint=True, to_field='id', related_name=False, on_delete=OnDelete.CASCADE)),
                ('id', fields.IntField(generated=True, primary_key=True, unique=True, db_index=True)),
                ('cluster', fields.SmallIntField()),
                ('size', fields.IntField()),
                ('description', fields.CharField(max_length=300)),
                ('centre', fields.JSONField(default=dict, encoder=functools.partial(dumps, separators=(',', ':')), decoder=loads)),
                ('computed_at', fields.DatetimeField(auto_now=False, auto_now_add=False)),
            ],
            options={'table': 'cluster_info', 'app': 'tessera', 'unique_together': (('brand_id', 'cluster'),), 'pk_attr': 'id', 'table_description': 'One cluster of the last run: its size, centre and a generated description.'},
            bases=['BrandOwned'],
        ),
        ops.CreateModel(
            name='ItemNeighbour',
            fields=[
                ('brand', fields.ForeignKeyField('tessera.Brand', source_field='brand_id', db_constraint=True, to_field='id', related_name=False, on_delete=OnDelete.CASCADE)),
                ('id', fields.BigIntField(generated=True, primary_key=True, unique=True, db_index=True)),
                ('sku', fields.CharField(max_length=64)),
                ('neighbour', fields.CharField(max_length=64)),
                ('rank', fields.SmallIntField()),
                ('score', fields.FloatField()),
                ('together', fields.IntField(description='orders holding both items')),
            ],
            options={'table': 'item_neighbour', 'app': 'tessera', 'indexes': [Index(fields=['brand_id', 'sku'])], 'pk_attr': 'id', 'table_description': "One of an item's top-N co-purchased items (rank 1 is the most similar),"},
            bases=['BrandOwned'],
        ),
        ops.CreateModel(
            name='ItemPopularity',
            fields=[
                ('brand', fields.ForeignKeyField('tessera.Brand', source_field='brand_id', db_constraint=True, to_field='id', related_name=False, on_delete=OnDelete.CASCADE)),
                ('id', fields.BigIntField(generated=True, primary_key=True, unique=True, db_index=True)),
                ('scope', fields.CharField(default='', max_length=32)),
                ('sku', fields.CharField(max_length=64)),
                ('category', fields.CharField(null=True, max_length=100)),
                ('rank', fields.IntField()),
                ('score', fields.FloatField()),
                ('buyers', fields.IntField()),
            ],
            options={'table': 'item_popularity', 'app': 'tessera', 'indexes': [Index(fields=['brand_id', 'scope', 'rank'])], 'pk_attr': 'id', 'table_description': "An item's recency-decayed popularity within one audience: ``scope`` is"},
            bases=['BrandOwned'],
        ),
        ops.CreateModel(
            name='MemberCluster',
            fields=[
                ('brand', fields.ForeignKeyField('tessera.Brand', source_field='brand_id', db_constraint=True, to_field='id', related_name=False, on_delete=OnDelete.CASCADE)),
                ('member', fields.OneToOneField('tessera.Member', source_field='member_id', primary_key=True, db_index=True, db_constraint=True, to_field='id', related_name=False, on_delete=OnDelete.CASCADE)),
                ('cluster', fields.SmallIntField()),
            ],
            options={'table': 'member_cluster', 'app': 'tessera', 'indexes': [Index(fields=['brand_id', 'cluster'])], 'pk_attr': 'member_id', 'table_description': 'The cluster k-means put the member in at the last clustering run.'},
            bases=['BrandOwned'],
        ),
        ops.CreateModel(
            name='SlotCreative',
            fields=[
                ('brand', fields.ForeignKeyField('tessera.Brand', source_field='brand_id', db_constraint=True, to_field='id', related_name=False, on_delete=OnDelete.CASCADE)),
                ('id', fields.IntField(generated=True, primary_key=True, unique=True, db_index=True)),
                ('slot', fields.CharField(max_length=100)),
                ('title', fields.CharField(max_length=200)),
                ('image_url', fields.CharField(max_length=2000)),
                ('link', fields.CharField(max_length=2000)),
                ('alt_text', fields.CharField(max_length=500)),
                ('audience_kind', fields.CharField(default='everyone', max_length=16)),
                ('audience_values', fields.JSONField(default=list, encoder=functools.partial(dumps, separators=(',', ':')), decoder=loads)),
                ('segment_id', fields.IntField(null=True)),
                ('starts_at', fields.DatetimeField(null=True, auto_now=False, auto_now_add=False)),
                ('ends_at', fields.DatetimeField(null=True, auto_now=False, auto_now_add=False)),
                ('priority', fields.IntField(default=0)),
                ('split_group', fields.CharField(default='', max_length=64)),
                ('split_weight', fields.IntField(default=1)),
                ('fallback', fields.BooleanField(default=False)),
                ('created_at', fields.DatetimeField(auto_now=False, auto_now_add=True)),
                ('updated_at', fields.DatetimeField(auto_now=True, auto_now_add=False)),
            ],
            options={'table': 'slot_creative', 'app': 'tessera', 'indexes': [Index(fields=['brand_id', 'slot'])], 'pk_attr': 'id', 'table_description': 'One banner a slot may show. ``audience_kind`` is ``everyone``,'},
            bases=['BrandOwned'],
        ),
        ops.CreateModel(
            name='SlotEvent',
            fields=[
                ('brand', fields.ForeignKeyField('tessera.Brand', source_field='brand_id', db_constraint=True, to_field='id', related_name=False, on_delete=OnDelete.CASCADE)),
                ('id', fields.BigIntField(generated=True, primary_key=True, unique=True, db_index=True)),
                ('event_id', fields.CharField(max_length=64)),
                ('slot', fields.CharField(max_length=100)),
                ('kind', fields.CharField(description='impression or click', max_length=16)),
                ('creative_id', fields.IntField(null=True)),
                ('sku', fields.CharField(null=True, max_length=64)),
                ('member_id', fields.BigIntField(null=True)),
                ('occurred_at', fields.DatetimeField(auto_now=False, auto_now_add=False)),
            ],
            options={'table': 'slot_event', 'app': 'tessera', 'unique_together': (('brand_id', 'event_id'),), 'indexes': [Index(fields=['brand_id', 'slot', 'creative_id'])], 'pk_attr': 'id', 'table_description': "An impression or click a member's app reported, once per ``event_id``."},
            bases=['BrandOwned'],
        ),
        ops.RunPython(apply, revert),
    ]
