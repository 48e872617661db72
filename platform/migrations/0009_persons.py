from tortoise import migrations
from tortoise.migrations import operations as ops
from tortoise.fields.base import OnDelete
from tortoise import fields
from tortoise.indexes import Index

class Migration(migrations.Migration):
    dependencies = [('tessera', '0008_privacy')]

    initial = False

    operations = [
        ops.CreateModel(
            name='Person',
            fields=[
                ('id', fields.BigIntField(generated=True, primary_key=True, unique=True, db_index=True)),
                ('tenant', fields.ForeignKeyField('tessera.Tenant', source_field='tenant_id', db_constraint=True, to_field='id', related_name=False, on_delete=OnDelete.CASCADE)),
                ('merged_into', fields.ForeignKeyField('tessera.Person', source_field='merged_into_id', null=True, db_constraint=True, to_field='id', related_name=False, on_delete=OnDelete.SET_NULL)),
                ('created_at', fields.DatetimeField(auto_now=False, auto_now_add=True)),
            ],
            options={'table': 'person', 'app': 'tessera', 'indexes': [Index(fields=['tenant_id', 'id'])], 'pk_attr': 'id', 'table_description': "The members of one tenant's brands that share a verified identity."},
            bases=['Model'],
        ),
        ops.CreateModel(
            name='PersonIdentity',
            fields=[
                ('id', fields.BigIntField(generated=True, primary_key=True, unique=True, db_index=True)),
                ('tenant', fields.ForeignKeyField('tessera.Tenant', source_field='tenant_id', db_constraint=True, to_field='id', related_name=False, on_delete=OnDelete.CASCADE)),
                ('brand', fields.ForeignKeyField('tessera.Brand', source_field='brand_id', db_constraint=True, to_field='id', related_name=False, on_delete=OnDelete.CASCADE)),
                ('member', fields.ForeignKeyField('tessera.Member', source_field='member_id', db_constraint=True, to_field='id', related_name=False, on_delete=OnDelete.CASCADE)),
                ('kind', fields.CharField(max_length=32)),
                ('digest', fields.CharField(max_length=64)),
                ('created_at', fields.DatetimeField(auto_now=False, auto_now_add=True)),
            ],
            options={'table': 'person_identity', 'app': 'tessera', 'unique_together': (('member_id', 'kind', 'digest'),), 'indexes': [Index(fields=['tenant_id', 'digest'])], 'pk_attr': 'id', 'table_description': 'One linking identity of a member, as a per-tenant keyed digest'},
            bases=['Model'],
        ),
        ops.CreateModel(
            name='PersonMember',
            fields=[
                ('id', fields.BigIntField(generated=True, primary_key=True, unique=True, db_index=True)),
                ('tenant', fields.ForeignKeyField('tessera.Tenant', source_field='tenant_id', db_constraint=True, to_field='id', related_name=False, on_delete=OnDelete.CASCADE)),
                ('person', fields.ForeignKeyField('tessera.Person', source_field='person_id', db_constraint=True, to_field='id', related_name=False, on_delete=OnDelete.CASCADE)),
                ('brand', fields.ForeignKeyField('tessera.Brand', source_field='brand_id', db_constraint=True, to_field='id', related_name=False, on_delete=OnDelete.CASCADE)),
                ('member', fields.OneToOneField('tessera.Member', source_field='member_id', db_constraint=True, to_field='id', related_name=False, on_delete=OnDelete.CASCADE)),
                ('linked_at', fields.DatetimeField(auto_now=False, auto_now_add=True)),
            ],
            options={'table': 'person_member', 'app': 'tessera', 'indexes': [Index(fields=['tenant_id', 'person_id'])], 'pk_attr': 'id', 'table_description': "A member's link to its person: a member has at most one."},
            bases=['Model'],
        ),
    ]
