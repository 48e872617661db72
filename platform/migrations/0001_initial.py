from tortoise import migrations
from tortoise.migrations import operations as ops
import functools
from json import dumps, loads
from tortoise.fields.base import OnDelete
from tortoise import fields
from tortoise.indexes import Index

class Migration(migrations.Migration):
    initial = True

    operations = [
        ops.CreateModel(
            name='Tenant',
            fields=[
                ('id', fields.IntField(generated=True, primary_key=True, unique=True, db_index=True)),
                ('code', fields.CharField(unique=True, max_length=64)),
                ('name', fields.CharField(max_length=200)),
                ('created_at', fields.DatetimeField(auto_now=False, auto_now_add=True)),
            ],
            options={'table': 'tenant', 'app': 'tessera', 'pk_attr': 'id', 'table_description': 'A company. It owns brands and admin users.'},
            bases=['Model'],
        ),
        ops.CreateModel(
            name='AdminUser',
            fields=[
                ('id', fields.IntField(generated=True, primary_key=True, unique=True, db_index=True)),
                ('tenant', fields.ForeignKeyField('tessera.Tenant', source_field='tenant_id', db_constraint=True, to_field='id', related_name='admin_users', on_delete=OnDelete.CASCADE)),
                ('email', fields.CharField(unique=True, max_length=254)),
                ('name', fields.CharField(default='', max_length=200)),
                ('password_hash', fields.CharField(max_length=200)),
                ('is_active', fields.BooleanField(default=True)),
                ('created_at', fields.DatetimeField(auto_now=False, auto_now_add=True)),
                ('last_login_at', fields.DatetimeField(null=True, auto_now=False, auto_now_add=False)),
            ],
            options={'table': 'admin_user', 'app': 'tessera', 'pk_attr': 'id', 'table_description': 'An operator of the admin UI. Belongs to a tenant, has a role per brand.'},
            bases=['Model'],
        ),
        ops.CreateModel(
            name='Brand',
            fields=[
                ('id', fields.IntField(generated=True, primary_key=True, unique=True, db_index=True)),
                ('tenant', fields.ForeignKeyField('tessera.Tenant', source_field='tenant_id', db_constraint=True, to_field='id', related_name='brands', on_delete=OnDelete.RESTRICT)),
                ('code', fields.CharField(unique=True, max_length=64)),
                ('name', fields.CharField(max_length=200)),
                ('currency', fields.CharField(description='ISO 4217 code', max_length=3)),
                ('timezone', fields.CharField(description='IANA time zone name', max_length=64)),
                ('default_region', fields.CharField(default='CN', description='ISO 3166 region for phone numbers without +', max_length=2)),
                ('created_at', fields.DatetimeField(auto_now=False, auto_now_add=True)),
            ],
            options={'table': 'brand', 'app': 'tessera', 'pk_attr': 'id', 'table_description': 'One membership programme. Every brand-owned row carries its id.'},
            bases=['Model'],
        ),
        ops.CreateModel(
            name='AdminRole',
            fields=[
                ('brand', fields.ForeignKeyField('tessera.Brand', source_field='brand_id', db_constraint=True, to_field='id', related_name=False, on_delete=OnDelete.CASCADE)),
                ('id', fields.IntField(generated=True, primary_key=True, unique=True, db_index=True)),
                ('admin_user', fields.ForeignKeyField('tessera.AdminUser', source_field='admin_user_id', db_constraint=True, to_field='id', related_name='roles', on_delete=OnDelete.CASCADE)),
                ('scopes', fields.JSONField(default=list, encoder=functools.partial(dumps, separators=(',', ':')), decoder=loads)),
            ],
            options={'table': 'admin_role', 'app': 'tessera', 'unique_together': (('brand_id', 'admin_user_id'),), 'pk_attr': 'id', 'table_description': 'What one admin user may do in one brand: the same scopes as an API key.'},
            bases=['BrandOwned'],
        ),
        ops.CreateModel(
            name='ApiKey',
            fields=[
                ('brand', fields.ForeignKeyField('tessera.Brand', source_field='brand_id', db_constraint=True, to_field='id', related_name=False, on_delete=OnDelete.CASCADE)),
                ('id', fields.IntField(generated=True, primary_key=True, unique=True, db_index=True)),
                ('name', fields.CharField(max_length=200)),
                ('prefix', fields.CharField(unique=True, description='public part of the key', max_length=16)),
                ('secret_hash', fields.CharField(description='sha256 of the whole key', max_length=64)),
                ('scopes', fields.JSONField(default=list, encoder=functools.partial(dumps, separators=(',', ':')), decoder=loads)),
                ('created_at', fields.DatetimeField(auto_now=False, auto_now_add=True)),
                ('last_used_at', fields.DatetimeField(null=True, auto_now=False, auto_now_add=False)),
                ('revoked_at', fields.DatetimeField(null=True, auto_now=False, auto_now_add=False)),
            ],
            options={'table': 'api_key', 'app': 'tessera', 'indexes': [Index(fields=['brand_id', 'created_at'])], 'pk_attr': 'id', 'table_description': "A brand's server-side credential. Only a hash of the secret is kept."},
            bases=['BrandOwned'],
        ),
        ops.CreateModel(
            name='AuditLogEntry',
            fields=[
                ('brand', fields.ForeignKeyField('tessera.Brand', source_field='brand_id', db_constraint=True, to_field='id', related_name=False, on_delete=OnDelete.CASCADE)),
                ('id', fields.BigIntField(generated=True, primary_key=True, unique=True, db_index=True)),
                ('actor_kind', fields.CharField(max_length=32)),
                ('actor_id', fields.CharField(null=True, max_length=64)),
                ('action', fields.CharField(max_length=100)),
                ('outcome', fields.CharField(description='ok, rejected or failed', max_length=16)),
                ('details', fields.JSONField(default=dict, encoder=functools.partial(dumps, separators=(',', ':')), decoder=loads)),
                ('request_id', fields.CharField(null=True, max_length=64)),
                ('created_at', fields.DatetimeField(auto_now=False, auto_now_add=True)),
            ],
            options={'table': 'audit_log_entry', 'app': 'tessera', 'indexes': [Index(fields=['brand_id', 'created_at'])], 'pk_attr': 'id', 'table_description': 'One mutation attempt: who, what, when, in which brand, and how it ended.'},
            bases=['BrandOwned'],
        ),
        ops.CreateModel(
            name='BrandFeature',
            fields=[
                ('brand', fields.ForeignKeyField('tessera.Brand', source_field='brand_id', db_constraint=True, to_field='id', related_name=False, on_delete=OnDelete.CASCADE)),
                ('id', fields.IntField(generated=True, primary_key=True, unique=True, db_index=True)),
                ('family', fields.CharField(max_length=32)),
                ('component_key', fields.CharField(max_length=100)),
                ('instance', fields.CharField(default='', max_length=100)),
                ('enabled', fields.BooleanField(default=True)),
                ('config', fields.JSONField(default=dict, description='the non-secret config fields', encoder=functools.partial(dumps, separators=(',', ':')), decoder=loads)),
                ('secrets', fields.TextField(default='', description='secret fields, encrypted', unique=False)),
                ('last_error', fields.TextField(null=True, unique=False)),
                ('last_error_at', fields.DatetimeField(null=True, auto_now=False, auto_now_add=False)),
                ('created_at', fields.DatetimeField(auto_now=False, auto_now_add=True)),
                ('updated_at', fields.DatetimeField(auto_now=True, auto_now_add=False)),
            ],
            options={'table': 'brand_feature', 'app': 'tessera', 'unique_together': (('brand_id', 'component_key', 'instance'),), 'indexes': [Index(fields=['brand_id', 'family', 'enabled'])], 'pk_attr': 'id', 'table_description': 'A component switched on (or off) for one brand, with its configuration.'},
            bases=['BrandOwned'],
        ),
    ]
