from tortoise import migrations
from tortoise.migrations import operations as ops
from tessera.campaigns.models import CampaignStatus
from tessera.channels.models import Channel, Purpose
from tortoise.fields.base import OnDelete
from tortoise import fields
from tortoise.indexes import Index


# The composite brand keys of the new links (see 0004_brand_keys): a campaign's
# template and its recipients' campaign and member are the same brand's.
BRAND_LINKS = [
    ("campaign", "template_id", "message_template", "RESTRICT"),
    ("campaign_recipient", "campaign_id", "campaign", "CASCADE"),
    ("campaign_recipient", "member_id", "member", "CASCADE"),
]


def statements() -> list[str]:
    sql = ['ALTER TABLE "campaign" ADD CONSTRAINT "campaign_brand_id_id_key" UNIQUE ("brand_id", "id")']
    for table, column, target, on_delete in BRAND_LINKS:
        sql.append(
            f'ALTER TABLE "{table}" ADD CONSTRAINT "{table}_{column}_brand_fkey" '
            f'FOREIGN KEY ("brand_id", "{column}") REFERENCES "{target}" ("brand_id", "id") '
            f"ON DELETE {on_delete}"
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
    await client.execute_script('ALTER TABLE "campaign" DROP CONSTRAINT "campaign_brand_id_id_key"')


class Migration(migrations.Migration):
    dependencies = [('tessera', '0014_channels')]

    initial = False

    operations = [
        ops.CreateModel(
            name='Campaign',
            fields=[
                ('brand', fields.ForeignKeyField('tessera.Brand', source_field='brand_id', db_constraint=True, to_field='id', related_name=False, on_delete=OnDelete.CASCADE)),
                ('id', fields.BigIntField(generated=True, primary_key=True, unique=True, db_index=True)),
                ('name', fields.CharField(max_length=100)),
                ('segment_id', fields.BigIntField(null=True, description='the audience, its members copied at launch')),
                ('template', fields.ForeignKeyField('tessera.MessageTemplate', source_field='template_id', db_constraint=True, to_field='id', related_name=False, on_delete=OnDelete.RESTRICT)),
                ('channel', fields.CharEnumField(description="the template's", enum_type=Channel, max_length=16)),
                ('purpose', fields.CharEnumField(default=Purpose.MARKETING, description='TRANSACTIONAL: transactional\nMARKETING: marketing', enum_type=Purpose, max_length=16)),
                ('holdout_share', fields.DecimalField(default=0, description='0 to 0.5, kept out at random', max_digits=5, decimal_places=4)),
                ('send_at', fields.DatetimeField(null=True, description='start no earlier, null: at launch', auto_now=False, auto_now_add=False)),
                ('throttle_per_minute', fields.IntField(null=True, description='messages per minute, null: none')),
                ('attribution_days', fields.IntField(default=7)),
                ('cost_per_message', fields.DecimalField(default=0, description="the sender's price, at launch", max_digits=12, decimal_places=4)),
                ('status', fields.CharEnumField(default=CampaignStatus.DRAFT, description='DRAFT: draft\nSCHEDULED: scheduled\nPREPARING: preparing\nSENDING: sending\nPAUSED: paused\nCANCELLED: cancelled\nCOMPLETED: completed', enum_type=CampaignStatus, max_length=16)),
                ('last_error', fields.TextField(default='', unique=False)),
                ('launched_at', fields.DatetimeField(null=True, auto_now=False, auto_now_add=False)),
                ('completed_at', fields.DatetimeField(null=True, auto_now=False, auto_now_add=False)),
                ('created_at', fields.DatetimeField(auto_now=False, auto_now_add=True)),
                ('updated_at', fields.DatetimeField(auto_now=True, auto_now_add=False)),
            ],
            options={'table': 'campaign', 'app': 'tessera', 'unique_together': (('brand_id', 'name'),), 'indexes': [Index(fields=['brand_id', 'status'])], 'pk_attr': 'id', 'table_description': 'One send of one template to one segment, frozen at launch.'},
            bases=['BrandOwned'],
        ),
        ops.CreateModel(
            name='CampaignRecipient',
            fields=[
                ('brand', fields.ForeignKeyField('tessera.Brand', source_field='brand_id', db_constraint=True, to_field='id', related_name=False, on_delete=OnDelete.CASCADE)),
                ('id', fields.BigIntField(generated=True, primary_key=True, unique=True, db_index=True)),
                ('campaign', fields.ForeignKeyField('tessera.Campaign', source_field='campaign_id', db_constraint=True, to_field='id', related_name=False, on_delete=OnDelete.CASCADE)),
                ('member', fields.ForeignKeyField('tessera.Member', source_field='member_id', db_constraint=True, to_field='id', related_name=False, on_delete=OnDelete.CASCADE)),
                ('holdout', fields.BooleanField(default=False)),
                ('batch', fields.IntField(description='the send batch, numbered from 0')),
                ('message_id', fields.BigIntField(null=True, description='the message, once decided')),
                ('created_at', fields.DatetimeField(auto_now=False, auto_now_add=True)),
            ],
            options={'table': 'campaign_recipient', 'app': 'tessera', 'unique_together': (('campaign_id', 'member_id'),), 'indexes': [Index(fields=['brand_id', 'member_id']), Index(fields=['campaign_id', 'batch'])], 'pk_attr': 'id', 'table_description': "A member frozen into a campaign's audience at launch: in the holdout"},
            bases=['BrandOwned'],
        ),
        ops.RunPython(apply, revert),
    ]
