from tortoise import migrations
from tortoise.migrations import operations as ops
from tortoise.fields.base import OnDelete
from tortoise import fields
from tortoise.indexes import Index

# The composite brand keys of the new links to members (see 0004_brand_keys,
# which gave member its unique (brand_id, id)).
BRAND_LINKS = [
    ("legal_hold", "member_id", "member", "CASCADE"),
    ("member_export", "member_id", "member", "CASCADE"),
]


def statements() -> list[str]:
    return [
        f'ALTER TABLE "{table}" ADD CONSTRAINT "{table}_{column}_brand_fkey" '
        f'FOREIGN KEY ("brand_id", "{column}") '
        f'REFERENCES "{target}" ("brand_id", "id") ON DELETE {on_delete}'
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
    for table, column, _, _ in reversed(BRAND_LINKS):
        await client.execute_script(
            f'ALTER TABLE "{table}" DROP CONSTRAINT "{table}_{column}_brand_fkey"'
        )


class Migration(migrations.Migration):
    dependencies = [("tessera", "0007_admin_form_submission")]

    initial = False

    operations = [
        ops.CreateModel(
            name="ErasedIdentity",
            fields=[
                (
                    "brand",
                    fields.ForeignKeyField(
                        "tessera.Brand",
                        source_field="brand_id",
                        db_constraint=True,
                        to_field="id",
                        related_name=False,
                        on_delete=OnDelete.CASCADE,
                    ),
                ),
                (
                    "id",
                    fields.BigIntField(
                        generated=True, primary_key=True, unique=True, db_index=True
                    ),
                ),
                ("kind", fields.CharField(max_length=32)),
                (
                    "digest",
                    fields.CharField(description="blind index of (kind, value)", max_length=64),
                ),
                ("erased_at", fields.DatetimeField(auto_now=False, auto_now_add=False)),
            ],
            options={
                "table": "erased_identity",
                "app": "tessera",
                "unique_together": (("brand_id", "digest"),),
                "pk_attr": "id",
                "table_description": "The blind index (:func:`tessera.crypto.blind_index`) of one identity",
            },
            bases=["BrandOwned"],
        ),
        ops.CreateModel(
            name="LegalHold",
            fields=[
                (
                    "brand",
                    fields.ForeignKeyField(
                        "tessera.Brand",
                        source_field="brand_id",
                        db_constraint=True,
                        to_field="id",
                        related_name=False,
                        on_delete=OnDelete.CASCADE,
                    ),
                ),
                (
                    "member",
                    fields.OneToOneField(
                        "tessera.Member",
                        source_field="member_id",
                        primary_key=True,
                        db_index=True,
                        db_constraint=True,
                        to_field="id",
                        related_name=False,
                        on_delete=OnDelete.CASCADE,
                    ),
                ),
                ("reason", fields.CharField(max_length=500)),
                ("set_by", fields.CharField(default="", max_length=200)),
                ("set_at", fields.DatetimeField(auto_now=False, auto_now_add=False)),
            ],
            options={
                "table": "legal_hold",
                "app": "tessera",
                "pk_attr": "member_id",
                "table_description": "A member whose data must be kept (litigation, an authority's request):",
            },
            bases=["BrandOwned"],
        ),
        ops.CreateModel(
            name="MemberExport",
            fields=[
                (
                    "brand",
                    fields.ForeignKeyField(
                        "tessera.Brand",
                        source_field="brand_id",
                        db_constraint=True,
                        to_field="id",
                        related_name=False,
                        on_delete=OnDelete.CASCADE,
                    ),
                ),
                (
                    "id",
                    fields.BigIntField(
                        generated=True, primary_key=True, unique=True, db_index=True
                    ),
                ),
                (
                    "member",
                    fields.ForeignKeyField(
                        "tessera.Member",
                        source_field="member_id",
                        db_constraint=True,
                        to_field="id",
                        related_name=False,
                        on_delete=OnDelete.CASCADE,
                    ),
                ),
                (
                    "status",
                    fields.CharField(
                        default="pending",
                        description="pending, ready, downloaded, expired or failed",
                        max_length=16,
                    ),
                ),
                ("requested_by", fields.CharField(default="", max_length=200)),
                ("requested_at", fields.DatetimeField(auto_now=False, auto_now_add=False)),
                ("ready_at", fields.DatetimeField(null=True, auto_now=False, auto_now_add=False)),
                (
                    "expires_at",
                    fields.DatetimeField(
                        null=True,
                        description="the link works until then",
                        auto_now=False,
                        auto_now_add=False,
                    ),
                ),
                (
                    "downloaded_at",
                    fields.DatetimeField(null=True, auto_now=False, auto_now_add=False),
                ),
                (
                    "document",
                    fields.TextField(
                        default="", description="encrypted JSON, emptied once used", unique=False
                    ),
                ),
                ("error", fields.CharField(default="", max_length=500)),
            ],
            options={
                "table": "member_export",
                "app": "tessera",
                "indexes": [Index(fields=["brand_id", "member_id"])],
                "pk_attr": "id",
                "table_description": "One request for a member's data. ``document`` is the JSON document,",
            },
            bases=["BrandOwned"],
        ),
        ops.CreateModel(
            name="PrivacySettings",
            fields=[
                (
                    "brand",
                    fields.ForeignKeyField(
                        "tessera.Brand",
                        source_field="brand_id",
                        db_constraint=True,
                        to_field="id",
                        related_name=False,
                        on_delete=OnDelete.CASCADE,
                    ),
                ),
                (
                    "id",
                    fields.IntField(generated=True, primary_key=True, unique=True, db_index=True),
                ),
                ("behaviour_event_days", fields.IntField(null=True)),
                ("webhook_delivery_days", fields.IntField(null=True)),
                (
                    "message_log_days",
                    fields.IntField(null=True, description="for channels' message logs"),
                ),
                (
                    "inactive_member_days",
                    fields.IntField(null=True, description="anonymise members inactive this long"),
                ),
                ("export_link_hours", fields.IntField(default=24)),
                ("updated_at", fields.DatetimeField(auto_now=True, auto_now_add=False)),
            ],
            options={
                "table": "privacy_settings",
                "app": "tessera",
                "unique_together": (("brand_id",),),
                "pk_attr": "id",
                "table_description": "A brand's retention periods, in days (``None`` keeps for ever).",
            },
            bases=["BrandOwned"],
        ),
        ops.RunPython(apply, revert),
    ]
