from tortoise import migrations
from tortoise.migrations import operations as ops
from tortoise.fields.base import OnDelete
from tortoise import fields
from tortoise.indexes import Index

class Migration(migrations.Migration):
    dependencies = [('tessera', '0006_webhooks_subscriptions')]

    initial = False

    operations = [
        ops.CreateModel(
            name='AdminFormSubmission',
            fields=[
                ('brand', fields.ForeignKeyField('tessera.Brand', source_field='brand_id', db_constraint=True, to_field='id', related_name=False, on_delete=OnDelete.CASCADE)),
                ('id', fields.BigIntField(generated=True, primary_key=True, unique=True, db_index=True)),
                ('key', fields.CharField(max_length=64)),
                ('created_at', fields.DatetimeField(auto_now=False, auto_now_add=True)),
            ],
            options={'table': 'admin_form_submission', 'app': 'tessera', 'unique_together': (('brand_id', 'key'),), 'pk_attr': 'id', 'table_description': 'The idempotency key of an admin form whose operation takes none in the'},
            bases=['BrandOwned'],
        ),
    ]
