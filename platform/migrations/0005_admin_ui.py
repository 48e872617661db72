from tortoise import migrations
from tortoise.migrations import operations as ops
import functools
from json import dumps, loads
from tortoise import fields
from tortoise.indexes import Index

class Migration(migrations.Migration):
    dependencies = [('tessera', '0004_brand_keys')]

    initial = False

    operations = [
        ops.CreateModel(
            name='AdminLoginFailure',
            fields=[
                ('id', fields.BigIntField(generated=True, primary_key=True, unique=True, db_index=True)),
                ('email', fields.CharField(max_length=254)),
                ('ip', fields.CharField(max_length=64)),
                ('created_at', fields.DatetimeField(auto_now=False, auto_now_add=True)),
            ],
            options={'table': 'admin_login_failure', 'app': 'tessera', 'indexes': [Index(fields=['email', 'ip', 'created_at'])], 'pk_attr': 'id', 'table_description': 'One refused sign-in, kept in the database so throttling holds across'},
            bases=['Model'],
        ),
        ops.AlterField(
            model_name='AdminRole',
            name='scopes',
            field=fields.JSONField(default=list, description='the API scopes the role maps to', encoder=functools.partial(dumps, separators=(',', ':')), decoder=loads),
        ),
        ops.AddField(
            model_name='AdminRole',
            name='role',
            field=fields.CharField(default='viewer', description='owner, operator, analyst or viewer', max_length=16),
        ),
        ops.AddField(
            model_name='AdminUser',
            name='locale',
            field=fields.CharField(default='', description="UI language, empty for the browser language", max_length=16),
        ),
    ]
