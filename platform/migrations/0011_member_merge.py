from tortoise import migrations
from tortoise.migrations import operations as ops
import functools
from json import dumps, loads
from tortoise.fields.base import OnDelete
from tortoise import fields
from tortoise.indexes import Index

# The composite brand keys of the new links (see 0004_brand_keys): a merge,
# a tombstone and a duplicate candidate name members of their own brand only.
BRAND_LINKS = [
    ("duplicate_candidate", "member_id", "member", "CASCADE"),
    ("duplicate_candidate", "other_id", "member", "CASCADE"),
    ("member", "merged_into_id", "member", "CASCADE"),
    ("member_merge", "merged_id", "member", "CASCADE"),
    ("member_merge", "survivor_id", "member", "CASCADE"),
]


def statements() -> list[str]:
    # member's ("brand_id", "id") key is 0004's.
    return [
        f'ALTER TABLE "{table}" ADD CONSTRAINT "{table}_{column}_brand_fkey" '
        f'FOREIGN KEY ("brand_id", "{column}") REFERENCES "{target}" ("brand_id", "id") '
        f"ON DELETE {on_delete}"
        for table, column, target, on_delete in BRAND_LINKS
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
    for table, column, _, _ in BRAND_LINKS:
        await client.execute_script(
            f'ALTER TABLE "{table}" DROP CONSTRAINT "{table}_{column}_brand_fkey"'
        )


class Migration(migrations.Migration):
    dependencies = [('tessera', '0010_encrypted_identities')]

    initial = False

    operations = [
        ops.CreateModel(
            name='DuplicateCandidate',
            fields=[
                ('brand', fields.ForeignKeyField('tessera.Brand', source_field='brand_id', db_constraint=True, to_field='id', related_name=False, on_delete=OnDelete.CASCADE)),
                ('id', fields.BigIntField(generated=True, primary_key=True, unique=True, db_index=True)),
                ('member', fields.ForeignKeyField('tessera.Member', source_field='member_id', db_constraint=True, to_field='id', related_name=False, on_delete=OnDelete.CASCADE)),
                ('other', fields.ForeignKeyField('tessera.Member', source_field='other_id', db_constraint=True, to_field='id', related_name=False, on_delete=OnDelete.CASCADE)),
                ('reason', fields.CharField(max_length=32)),
                ('kind', fields.CharField(default='', description='identity kind, for identity', max_length=32)),
                ('status', fields.CharField(default='open', description='open, dismissed, merged', max_length=16)),
                ('found_at', fields.DatetimeField(auto_now=False, auto_now_add=False)),
                ('resolved_at', fields.DatetimeField(null=True, auto_now=False, auto_now_add=False)),
            ],
            options={'table': 'duplicate_candidate', 'app': 'tessera', 'unique_together': (('brand_id', 'member_id', 'other_id', 'reason'),), 'indexes': [Index(fields=['brand_id', 'status', 'found_at'])], 'pk_attr': 'id', 'table_description': 'Two members of a brand that may be one person, for review: ``reason``'},
            bases=['BrandOwned'],
        ),
        ops.CreateModel(
            name='MemberMerge',
            fields=[
                ('brand', fields.ForeignKeyField('tessera.Brand', source_field='brand_id', db_constraint=True, to_field='id', related_name=False, on_delete=OnDelete.CASCADE)),
                ('id', fields.BigIntField(generated=True, primary_key=True, unique=True, db_index=True)),
                ('survivor', fields.ForeignKeyField('tessera.Member', source_field='survivor_id', db_constraint=True, to_field='id', related_name=False, on_delete=OnDelete.CASCADE)),
                ('merged', fields.ForeignKeyField('tessera.Member', source_field='merged_id', db_constraint=True, to_field='id', related_name=False, on_delete=OnDelete.CASCADE)),
                ('idempotency_key', fields.CharField(max_length=200)),
                ('fingerprint', fields.CharField(max_length=64)),
                ('automatic', fields.BooleanField(default=False)),
                ('actor', fields.CharField(default='', max_length=200)),
                ('conflicts', fields.JSONField(default=list, description='attributes both members had', encoder=functools.partial(dumps, separators=(',', ':')), decoder=loads)),
                ('moved', fields.JSONField(default=dict, description='ids of the rows moved, by table', encoder=functools.partial(dumps, separators=(',', ':')), decoder=loads)),
                ('previous', fields.JSONField(default=dict, description='survivor values the merge changed', encoder=functools.partial(dumps, separators=(',', ':')), decoder=loads)),
                ('merged_at', fields.DatetimeField(auto_now=False, auto_now_add=False)),
                ('undone_at', fields.DatetimeField(null=True, auto_now=False, auto_now_add=False)),
            ],
            options={'table': 'member_merge', 'app': 'tessera', 'unique_together': (('brand_id', 'idempotency_key'),), 'indexes': [Index(fields=['brand_id', 'survivor_id']), Index(fields=['brand_id', 'merged_id'])], 'pk_attr': 'id', 'table_description': 'One merge of two members of a brand (:mod:`tessera.members.merge`):'},
            bases=['BrandOwned'],
        ),
        ops.AddField(
            model_name='Member',
            name='merged_into',
            field=fields.ForeignKeyField('tessera.Member', source_field='merged_into_id', null=True, description='status merged: the member this tombstone resolves to (tessera.members.merge)', db_constraint=True, to_field='id', related_name=False, on_delete=OnDelete.CASCADE),
        ),
        ops.AddField(
            model_name='MemberSettings',
            name='auto_merge',
            field=fields.BooleanField(default=False, description='merge exact verified-identity duplicates without review'),
        ),
        ops.RunPython(apply, revert),
    ]
