from tortoise import migrations
from tortoise.migrations import operations as ops
import functools
from json import dumps, loads
from tortoise.fields.base import OnDelete
from tortoise import fields
from tortoise.indexes import Index

class Migration(migrations.Migration):
    dependencies = [('tessera', '0002_checkout_holds')]

    initial = False

    operations = [
        ops.CreateModel(
            name='OutboxEntry',
            fields=[
                ('brand', fields.ForeignKeyField('tessera.Brand', source_field='brand_id', db_constraint=True, to_field='id', related_name=False, on_delete=OnDelete.CASCADE)),
                ('id', fields.BigIntField(generated=True, primary_key=True, unique=True, db_index=True)),
                ('kind', fields.CharField(description='the registered job that does the work', max_length=64)),
                ('payload', fields.JSONField(description='{"args": [...], "kwargs": {...}} of the job', encoder=functools.partial(dumps, separators=(',', ':')), decoder=loads)),
                ('key', fields.CharField(null=True, description='coalescing key while pending, else null', max_length=200)),
                ('created_at', fields.DatetimeField(auto_now=False, auto_now_add=True)),
                ('available_at', fields.DatetimeField(description="due from then on (a claim pushes it past the claim's lease)", auto_now=False, auto_now_add=False)),
                ('attempts', fields.IntField(default=0, description='claims so far')),
                ('done_at', fields.DatetimeField(null=True, auto_now=False, auto_now_add=False)),
                ('failed_at', fields.DatetimeField(null=True, description='set when the attempts ran out', auto_now=False, auto_now_add=False)),
                ('last_error', fields.TextField(null=True, unique=False)),
            ],
            options={'table': 'outbox', 'app': 'tessera', 'unique_together': (('brand_id', 'key'),), 'indexes': [Index(fields=['done_at', 'available_at'])], 'pk_attr': 'id', 'table_description': 'Work to run after the transaction that wrote it committed.'},
            bases=['BrandOwned'],
        ),
    ]
