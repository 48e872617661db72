from tortoise import migrations
from tortoise.migrations import operations as ops
from tortoise.fields.base import OnDelete
from tortoise import fields
from tortoise.indexes import Index

class Migration(migrations.Migration):
    dependencies = [('tessera', '0001_initial')]

    initial = False

    operations = [
        ops.CreateModel(
            name='RewardHold',
            fields=[
                ('brand', fields.ForeignKeyField('tessera.Brand', source_field='brand_id', db_constraint=True, to_field='id', related_name=False, on_delete=OnDelete.CASCADE)),
                ('id', fields.BigIntField(generated=True, primary_key=True, unique=True, db_index=True)),
                ('member', fields.ForeignKeyField('tessera.Member', source_field='member_id', db_constraint=True, to_field='id', related_name=False, on_delete=OnDelete.CASCADE)),
                ('points', fields.BigIntField(default=0, description='points reserved')),
                ('discount', fields.BigIntField(default=0, description='what they and the coupons are worth')),
                ('order_amount', fields.BigIntField(null=True, description='the cart the hold was checked on')),
                ('external_order_id', fields.CharField(null=True, max_length=128)),
                ('status', fields.CharField(default='held', max_length=16)),
                ('expires_at', fields.DatetimeField(auto_now=False, auto_now_add=False)),
                ('order', fields.ForeignKeyField('tessera.Order', source_field='order_id', null=True, db_constraint=True, to_field='id', related_name=False, on_delete=OnDelete.SET_NULL)),
                ('idempotency_key', fields.CharField(max_length=200)),
                ('fingerprint', fields.CharField(max_length=64)),
                ('release_key', fields.CharField(null=True, description="releaseHold's key", max_length=200)),
                ('actor', fields.CharField(default='', max_length=200)),
                ('created_at', fields.DatetimeField(auto_now=False, auto_now_add=False)),
                ('settled_at', fields.DatetimeField(null=True, auto_now=False, auto_now_add=False)),
            ],
            options={'table': 'reward_hold', 'app': 'tessera', 'unique_together': (('brand_id', 'idempotency_key'),), 'indexes': [Index(fields=['brand_id', 'status', 'expires_at']), Index(fields=['brand_id', 'member_id', 'status'])], 'pk_attr': 'id', 'table_description': 'Points and coupons reserved for a checkout until ``expires_at`` (UTC).'},
            bases=['BrandOwned'],
        ),
        ops.CreateModel(
            name='HeldCoupon',
            fields=[
                ('brand', fields.ForeignKeyField('tessera.Brand', source_field='brand_id', db_constraint=True, to_field='id', related_name=False, on_delete=OnDelete.CASCADE)),
                ('id', fields.BigIntField(generated=True, primary_key=True, unique=True, db_index=True)),
                ('hold', fields.ForeignKeyField('tessera.RewardHold', source_field='hold_id', db_constraint=True, to_field='id', related_name='coupons', on_delete=OnDelete.CASCADE)),
                ('coupon', fields.ForeignKeyField('tessera.Coupon', source_field='coupon_id', db_constraint=True, to_field='id', related_name=False, on_delete=OnDelete.CASCADE)),
                ('position', fields.IntField()),
                ('discount', fields.BigIntField(description='what it takes off the held cart, minor units')),
            ],
            options={'table': 'held_coupon', 'app': 'tessera', 'unique_together': (('hold_id', 'coupon_id'),), 'indexes': [Index(fields=['brand_id', 'coupon_id'])], 'pk_attr': 'id', 'table_description': 'A coupon reserved by a hold, in the order it was given.'},
            bases=['BrandOwned'],
        ),
        ops.AddField(
            model_name='AssetAccount',
            name='reserved',
            field=fields.BigIntField(default=0, description='part of the balance open checkout holds reserve'),
        ),
    ]
