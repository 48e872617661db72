from tortoise import migrations
from tortoise.migrations import operations as ops
import functools
from json import dumps, loads
from tessera.channels.models import Channel, DoNotContactReason, MessageStatus, Purpose
from tortoise.fields.base import OnDelete
from tortoise import fields
from tortoise.indexes import Index

# The composite brand keys of the new links (see 0004_brand_keys; member has
# its (brand_id, id) key already).
BRAND_LINKS = [
    ("channel_consent", "member_id", "member", "CASCADE"),
    ("do_not_contact", "member_id", "member", "CASCADE"),
    ("message", "member_id", "member", "CASCADE"),
    ("message", "template_id", "message_template", "SET NULL"),
    ("trigger_rule", "template_id", "message_template", "RESTRICT"),
]


def statements() -> list[str]:
    sql = [
        'ALTER TABLE "message_template" ADD CONSTRAINT "message_template_brand_id_id_key" '
        'UNIQUE ("brand_id", "id")'
    ]
    for table, column, target, on_delete in BRAND_LINKS:
        # SET NULL on the composite key would null brand_id too: the plain
        # key sets the column to null, the composite one then has nothing to check.
        action = "NO ACTION" if on_delete == "SET NULL" else on_delete
        sql.append(
            f'ALTER TABLE "{table}" ADD CONSTRAINT "{table}_{column}_brand_fkey" '
            f'FOREIGN KEY ("brand_id", "{column}") REFERENCES "{target}" ("brand_id", "id") '
            f"ON DELETE {action}"
        )
    return sql


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
    for table, column, _, _ in reversed(BRAND_LINKS):
        await client.execute_script(
            f'ALTER TABLE "{table}" DROP CONSTRAINT "{table}_{column}_brand_fkey"'
        )
    await client.execute_script(
        'ALTER TABLE "message_template" DROP CONSTRAINT "message_template_brand_id_id_key"'
    )


class Migration(migrations.Migration):
    dependencies = [('tessera', '0013_reports')]

    initial = False

    operations = [
        ops.CreateModel(
            name='ChannelConsent',
            fields=[
                ('brand', fields.ForeignKeyField('tessera.Brand', source_field='brand_id', db_constraint=True, to_field='id', related_name=False, on_delete=OnDelete.CASCADE)),
                ('id', fields.BigIntField(generated=True, primary_key=True, unique=True, db_index=True)),
                ('member', fields.ForeignKeyField('tessera.Member', source_field='member_id', db_constraint=True, to_field='id', related_name=False, on_delete=OnDelete.CASCADE)),
                ('channel', fields.CharEnumField(description='EMAIL: email\nSMS: sms\nWECHAT: wechat\nPUSH: push', enum_type=Channel, max_length=16)),
                ('purpose', fields.CharEnumField(description='TRANSACTIONAL: transactional\nMARKETING: marketing', enum_type=Purpose, max_length=16)),
                ('granted', fields.BooleanField()),
                ('source', fields.CharField(description='api, member, admin, unsubscribe_link, receipt', max_length=64)),
                ('updated_at', fields.DatetimeField(auto_now=False, auto_now_add=False)),
            ],
            options={'table': 'channel_consent', 'app': 'tessera', 'unique_together': (('brand_id', 'member_id', 'channel', 'purpose'),), 'pk_attr': 'id', 'table_description': "A member's yes or no to one channel and purpose, with where it came from."},
            bases=['BrandOwned'],
        ),
        ops.CreateModel(
            name='ChannelSettings',
            fields=[
                ('brand', fields.ForeignKeyField('tessera.Brand', source_field='brand_id', db_constraint=True, to_field='id', related_name=False, on_delete=OnDelete.CASCADE)),
                ('id', fields.IntField(generated=True, primary_key=True, unique=True, db_index=True)),
                ('quiet_start', fields.CharField(null=True, description='brand-local, e.g. 21:00', max_length=5)),
                ('quiet_end', fields.CharField(null=True, description='brand-local, e.g. 08:00', max_length=5)),
                ('caps', fields.JSONField(default=list, encoder=functools.partial(dumps, separators=(',', ':')), decoder=loads)),
                ('updated_at', fields.DatetimeField(auto_now=True, auto_now_add=False)),
            ],
            options={'table': 'channel_settings', 'app': 'tessera', 'unique_together': (('brand_id',),), 'pk_attr': 'id', 'table_description': "A brand's contact rules: quiet hours (brand-local) and frequency caps."},
            bases=['BrandOwned'],
        ),
        ops.CreateModel(
            name='DoNotContact',
            fields=[
                ('brand', fields.ForeignKeyField('tessera.Brand', source_field='brand_id', db_constraint=True, to_field='id', related_name=False, on_delete=OnDelete.CASCADE)),
                ('id', fields.BigIntField(generated=True, primary_key=True, unique=True, db_index=True)),
                ('member', fields.ForeignKeyField('tessera.Member', source_field='member_id', db_constraint=True, to_field='id', related_name=False, on_delete=OnDelete.CASCADE)),
                ('channel', fields.CharEnumField(description='EMAIL: email\nSMS: sms\nWECHAT: wechat\nPUSH: push', enum_type=Channel, max_length=16)),
                ('reason', fields.CharEnumField(description='UNSUBSCRIBED: unsubscribed\nBOUNCED: bounced\nCOMPLAINT: complaint\nMANUAL: manual\nPROVIDER_REJECTED: provider_rejected', enum_type=DoNotContactReason, max_length=24)),
                ('detail', fields.CharField(default='', max_length=500)),
                ('created_at', fields.DatetimeField(auto_now=False, auto_now_add=True)),
            ],
            options={'table': 'do_not_contact', 'app': 'tessera', 'unique_together': (('brand_id', 'member_id', 'channel'),), 'pk_attr': 'id', 'table_description': 'Never send to this member on this channel, whatever the purpose.'},
            bases=['BrandOwned'],
        ),
        ops.CreateModel(
            name='MessageTemplate',
            fields=[
                ('brand', fields.ForeignKeyField('tessera.Brand', source_field='brand_id', db_constraint=True, to_field='id', related_name=False, on_delete=OnDelete.CASCADE)),
                ('id', fields.BigIntField(generated=True, primary_key=True, unique=True, db_index=True)),
                ('name', fields.CharField(max_length=100)),
                ('channel', fields.CharEnumField(description='EMAIL: email\nSMS: sms\nWECHAT: wechat\nPUSH: push', enum_type=Channel, max_length=16)),
                ('subject', fields.CharField(default='', description='email only', max_length=500)),
                ('body', fields.TextField(description="the text (an email's text part)", unique=False)),
                ('html', fields.TextField(default='', description="an email's HTML part, empty for none", unique=False)),
                ('provider_template', fields.CharField(default='', description="a provider's registered template code, if any", max_length=100)),
                ('created_at', fields.DatetimeField(auto_now=False, auto_now_add=True)),
                ('updated_at', fields.DatetimeField(auto_now=True, auto_now_add=False)),
            ],
            options={'table': 'message_template', 'app': 'tessera', 'unique_together': (('brand_id', 'name'),), 'pk_attr': 'id', 'table_description': 'What a message says on one channel, as Jinja2 source (sandboxed).'},
            bases=['BrandOwned'],
        ),
        ops.CreateModel(
            name='Message',
            fields=[
                ('brand', fields.ForeignKeyField('tessera.Brand', source_field='brand_id', db_constraint=True, to_field='id', related_name=False, on_delete=OnDelete.CASCADE)),
                ('id', fields.BigIntField(generated=True, primary_key=True, unique=True, db_index=True)),
                ('member', fields.ForeignKeyField('tessera.Member', source_field='member_id', db_constraint=True, to_field='id', related_name=False, on_delete=OnDelete.CASCADE)),
                ('channel', fields.CharEnumField(description='EMAIL: email\nSMS: sms\nWECHAT: wechat\nPUSH: push', enum_type=Channel, max_length=16)),
                ('purpose', fields.CharEnumField(description='TRANSACTIONAL: transactional\nMARKETING: marketing', enum_type=Purpose, max_length=16)),
                ('template', fields.ForeignKeyField('tessera.MessageTemplate', source_field='template_id', null=True, db_constraint=True, to_field='id', related_name=False, on_delete=OnDelete.SET_NULL)),
                ('source', fields.CharField(description='trigger:<event>, api, admin, campaign:<id>', max_length=64)),
                ('variables', fields.JSONField(default=dict, description='extra template variables', encoder=functools.partial(dumps, separators=(',', ':')), decoder=loads)),
                ('idempotency_key', fields.CharField(max_length=200)),
                ('status', fields.CharEnumField(description='QUEUED: queued\nHELD: held\nDEFERRED: deferred\nSENT: sent\nDELIVERED: delivered\nFAILED: failed\nREJECTED: rejected', enum_type=MessageStatus, max_length=16)),
                ('reason', fields.CharField(default='', max_length=500)),
                ('provider', fields.CharField(default='', description="the sender's key", max_length=64)),
                ('provider_id', fields.CharField(null=True, max_length=200)),
                ('attempts', fields.IntField(default=0)),
                ('send_after', fields.DatetimeField(description='not before this (caps count by it)', auto_now=False, auto_now_add=False)),
                ('created_at', fields.DatetimeField(auto_now=False, auto_now_add=True)),
                ('sent_at', fields.DatetimeField(null=True, auto_now=False, auto_now_add=False)),
                ('delivered_at', fields.DatetimeField(null=True, auto_now=False, auto_now_add=False)),
                ('opened_at', fields.DatetimeField(null=True, auto_now=False, auto_now_add=False)),
                ('clicked_at', fields.DatetimeField(null=True, auto_now=False, auto_now_add=False)),
                ('updated_at', fields.DatetimeField(auto_now=True, auto_now_add=False)),
            ],
            options={'table': 'message', 'app': 'tessera', 'unique_together': (('brand_id', 'member_id', 'idempotency_key'),), 'indexes': [Index(fields=['brand_id', 'member_id', 'send_after']), Index(fields=['brand_id', 'provider_id'])], 'pk_attr': 'id', 'table_description': "One message to one member, from the gate's decision to its last receipt."},
            bases=['BrandOwned'],
        ),
        ops.CreateModel(
            name='TriggerRule',
            fields=[
                ('brand', fields.ForeignKeyField('tessera.Brand', source_field='brand_id', db_constraint=True, to_field='id', related_name=False, on_delete=OnDelete.CASCADE)),
                ('id', fields.BigIntField(generated=True, primary_key=True, unique=True, db_index=True)),
                ('event', fields.CharField(max_length=64)),
                ('template', fields.ForeignKeyField('tessera.MessageTemplate', source_field='template_id', db_constraint=True, to_field='id', related_name=False, on_delete=OnDelete.RESTRICT)),
                ('purpose', fields.CharEnumField(description='TRANSACTIONAL: transactional\nMARKETING: marketing', enum_type=Purpose, max_length=16)),
                ('delay_minutes', fields.IntField(default=0)),
                ('segment_id', fields.BigIntField(null=True, description='segment.entered: only this segment')),
                ('active', fields.BooleanField(default=True)),
                ('created_at', fields.DatetimeField(auto_now=False, auto_now_add=True)),
                ('updated_at', fields.DatetimeField(auto_now=True, auto_now_add=False)),
            ],
            options={'table': 'trigger_rule', 'app': 'tessera', 'indexes': [Index(fields=['brand_id', 'event', 'active'])], 'pk_attr': 'id', 'table_description': 'Send ``template`` when ``event`` happens to a member, after ``delay_minutes``.'},
            bases=['BrandOwned'],
        ),
        ops.RunPython(apply, revert),
    ]
