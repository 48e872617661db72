from tortoise import migrations
from tortoise.migrations import operations as ops
from tortoise import fields
from tortoise.indexes import Index
from tortoise.migrations.constraints import UniqueConstraint

from tessera.migrations_data import DropColumn, RemoveTableUniqueConstraint, seal_identities


class Migration(migrations.Migration):
    dependencies = [('tessera', '0009_persons')]

    initial = False

    operations = [
        ops.AddField(
            model_name='Brand',
            name='identity_key_version',
            field=fields.SmallIntField(default=1, db_default=1, description='the key version new identity values are sealed with'),
        ),
        ops.AddField(
            model_name='Member',
            name='email_sealed',
            field=fields.TextField(null=True, description='lower-cased, sealed', unique=False),
        ),
        ops.AddField(
            model_name='Member',
            name='phone_sealed',
            field=fields.TextField(null=True, description='E.164, sealed', unique=False),
        ),
        RemoveTableUniqueConstraint(
            model_name='MemberIdentity',
            name=None,
            fields=['brand_id', 'kind', 'value'],
        ),
        # The database default only lets the column be added to a table with
        # rows: seal_identities fills in every row's digest, then it goes.
        ops.AddField(
            model_name='MemberIdentity',
            name='digest',
            field=fields.CharField(description='blind index of the normalised value', max_length=64, db_default=''),
        ),
        ops.AddField(
            model_name='MemberIdentity',
            name='reference',
            field=fields.CharField(null=True, description='a card number or external id, readable', max_length=128),
        ),
        ops.AddField(
            model_name='MemberIdentity',
            name='sealed',
            field=fields.TextField(null=True, description='a personal value, sealed', unique=False),
        ),
        ops.RunPython(seal_identities),
        ops.AlterField(
            model_name='MemberIdentity',
            name='digest',
            field=fields.CharField(description='blind index of the normalised value', max_length=64),
        ),
        DropColumn(model_name='Member', name='email'),
        DropColumn(model_name='Member', name='phone'),
        ops.RemoveField(model_name='MemberIdentity', name='value'),
        ops.AddIndex(
            model_name='MemberIdentity',
            index=Index(fields=['brand_id', 'reference']),
        ),
        ops.AddConstraint(
            model_name='MemberIdentity',
            constraint=UniqueConstraint(fields=('brand_id', 'kind', 'digest'), name=None),
        ),
    ]
