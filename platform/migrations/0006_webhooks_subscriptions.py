from tortoise import migrations
from tortoise.migrations import operations as ops
import functools
from json import dumps, loads
from tessera.webhooks.models import DeliveryStatus
from tortoise.fields.base import OnDelete
from tortoise import fields
from tortoise.indexes import Index

# The composite brand key of the new link (see 0004_brand_keys).
BRAND_LINKS = [("webhook_delivery", "subscription_id", "webhook_subscription", "CASCADE")]


def statements() -> list[str]:
    return [
        'ALTER TABLE "webhook_subscription" ADD CONSTRAINT "webhook_subscription_brand_id_id_key" '
        'UNIQUE ("brand_id", "id")',
        'ALTER TABLE "webhook_delivery" ADD CONSTRAINT "webhook_delivery_subscription_id_brand_fkey" '
        'FOREIGN KEY ("brand_id", "subscription_id") '
        'REFERENCES "webhook_subscription" ("brand_id", "id") ON DELETE CASCADE',
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
    await client.execute_script(
        'ALTER TABLE "webhook_delivery" DROP CONSTRAINT "webhook_delivery_subscription_id_brand_fkey"'
    )
    await client.execute_script(
        'ALTER TABLE "webhook_subscription" DROP CONSTRAINT "webhook_subscription_brand_id_id_key"'
    )


class Migration(migrations.Migration):
    dependencies = [("tessera", "0005_admin_ui")]

    initial = False

    operations = [
        ops.CreateModel(
            name="WebhookSubscription",
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
                ("url", fields.CharField(max_length=2000)),
                ("description", fields.CharField(default="", max_length=200)),
                (
                    "event_types",
                    fields.JSONField(
                        description='event names subscribed to, ["*"] for all',
                        encoder=functools.partial(dumps, separators=(",", ":")),
                        decoder=loads,
                    ),
                ),
                (
                    "secrets",
                    fields.TextField(description="encrypted signing secrets", unique=False),
                ),
                ("active", fields.BooleanField(default=True)),
                (
                    "consecutive_failures",
                    fields.IntField(default=0, description="failed attempts since a 2xx"),
                ),
                (
                    "disabled_at",
                    fields.DatetimeField(null=True, auto_now=False, auto_now_add=False),
                ),
                ("disabled_reason", fields.CharField(default="", max_length=500)),
                ("created_at", fields.DatetimeField(auto_now=False, auto_now_add=True)),
                ("updated_at", fields.DatetimeField(auto_now=True, auto_now_add=False)),
            ],
            options={
                "table": "webhook_subscription",
                "app": "tessera",
                "pk_attr": "id",
                "table_description": "Where to POST which of the brand's events.",
            },
            bases=["BrandOwned"],
        ),
        ops.CreateModel(
            name="WebhookDelivery",
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
                    "delivery_id",
                    fields.UUIDField(description="sent as Tessera-Webhook-Id"),
                ),
                (
                    "subscription",
                    fields.ForeignKeyField(
                        "tessera.WebhookSubscription",
                        source_field="subscription_id",
                        db_constraint=True,
                        to_field="id",
                        related_name="deliveries",
                        on_delete=OnDelete.CASCADE,
                    ),
                ),
                ("event_type", fields.CharField(max_length=64)),
                (
                    "payload",
                    fields.JSONField(
                        description="the body sent, as JSON",
                        encoder=functools.partial(dumps, separators=(",", ":")),
                        decoder=loads,
                    ),
                ),
                (
                    "status",
                    fields.CharEnumField(
                        default=DeliveryStatus.PENDING,
                        description="PENDING: pending\nDELIVERED: delivered\nFAILED: failed\nDEAD: dead",
                        enum_type=DeliveryStatus,
                        max_length=16,
                    ),
                ),
                (
                    "attempts",
                    fields.IntField(default=0, description="attempts since created or replayed"),
                ),
                (
                    "next_attempt_at",
                    fields.DatetimeField(null=True, auto_now=False, auto_now_add=False),
                ),
                (
                    "last_attempt_at",
                    fields.DatetimeField(null=True, auto_now=False, auto_now_add=False),
                ),
                ("last_response_code", fields.IntField(null=True)),
                ("last_error", fields.TextField(default="", unique=False)),
                ("created_at", fields.DatetimeField(auto_now=False, auto_now_add=True)),
                (
                    "delivered_at",
                    fields.DatetimeField(null=True, auto_now=False, auto_now_add=False),
                ),
            ],
            options={
                "table": "webhook_delivery",
                "app": "tessera",
                "unique_together": (("brand_id", "delivery_id"),),
                "indexes": [Index(fields=["brand_id", "subscription_id", "status", "id"])],
                "pk_attr": "id",
                "table_description": "One event for one subscription: the same ``delivery_id`` (and body) on",
            },
            bases=["BrandOwned"],
        ),
        ops.RunPython(apply, revert),
    ]
