"""Managing webhooks through GraphQL: the secret is shown once, the admin
scope is required, the delivery log pages and filters, replay resends with
the same delivery id; and docs/webhook-schemas.json is the code's."""

from __future__ import annotations

import json
from pathlib import Path

from receiver_example import load as load_receiver

from tessera.webhooks.events import EVENT_TYPES, all_schemas

RECEIVER = load_receiver()
SUBSCRIPTION = "subscription { id url eventTypes description active consecutiveFailures }"
CREATE = f"""
mutation($i: CreateWebhookSubscriptionInput!) {{
  createWebhookSubscription(input: $i) {{ {SUBSCRIPTION} secret errors {{ field code }} }}
}}"""
DELIVERIES = """
query($s: ID, $status: WebhookDeliveryStatus, $after: String) {
  webhookDeliveries(subscriptionId: $s, status: $status, first: 1, after: $after) {
    totalCount pageInfo { hasNextPage endCursor }
    edges { node { id deliveryId eventType status attempts lastResponseCode payload } }
  }
}"""


async def test_a_subscription_is_managed_through_graphql_with_the_secret_shown_once(
    brand_a, api_key, gql, webhook_receiver, drain_outbox, new_member
):
    token = await api_key(brand_a, "admin")
    made = (
        await gql(
            CREATE,
            {
                "i": {
                    "url": webhook_receiver.url,
                    "eventTypes": ["member.joined"],
                    "description": "CRM",
                }
            },
            token=token,
        )
    )["createWebhookSubscription"]
    assert made["errors"] == [] and made["secret"].startswith("whsec_")
    hook = made["subscription"]
    assert (hook["eventTypes"], hook["active"], hook["description"]) == (
        ["member.joined"],
        True,
        "CRM",
    )
    listed = await gql("{ webhookSubscriptions { id url } }", token=token)
    assert listed["webhookSubscriptions"] == [{"id": hook["id"], "url": webhook_receiver.url}]
    assert made["secret"] not in json.dumps(listed)

    await new_member(brand_a, name="Ann", identities=[("app_user_id", "ann")])
    await new_member(brand_a, name="Bob", identities=[("app_user_id", "bob")])
    await drain_outbox()
    for got in webhook_receiver.received:
        RECEIVER.verify([made["secret"]], got.headers, got.body)

    page = (await gql(DELIVERIES, {"s": hook["id"], "status": "DELIVERED"}, token=token))[
        "webhookDeliveries"
    ]
    assert page["totalCount"] == 2 and page["pageInfo"]["hasNextPage"]
    newest = page["edges"][0]["node"]
    assert (newest["eventType"], newest["attempts"], newest["lastResponseCode"]) == (
        "member.joined",
        1,
        200,
    )
    assert newest["payload"]["id"] == newest["deliveryId"]
    after = page["pageInfo"]["endCursor"]
    second = (await gql(DELIVERIES, {"s": hook["id"], "after": after}, token=token))[
        "webhookDeliveries"
    ]
    assert second["edges"][0]["node"]["id"] != newest["id"]
    failed = await gql(DELIVERIES, {"status": "FAILED"}, token=token)
    assert failed["webhookDeliveries"]["totalCount"] == 0

    replayed = (
        await gql(
            "mutation($id: ID!) { replayWebhookDelivery(input: {id: $id})"
            " { delivery { status attempts } errors { code } } }",
            {"id": newest["id"]},
            token=token,
        )
    )["replayWebhookDelivery"]
    assert replayed == {"delivery": {"status": "PENDING", "attempts": 0}, "errors": []}
    await drain_outbox()
    assert webhook_receiver.received[-1].headers["tessera-webhook-id"] == newest["deliveryId"]

    rotated = (
        await gql(
            "mutation($id: ID!) { rotateWebhookSecret(input: {id: $id, overlapHours: 2})"
            " { secret errors { code } } }",
            {"id": hook["id"]},
            token=token,
        )
    )["rotateWebhookSecret"]
    assert rotated["errors"] == [] and rotated["secret"] != made["secret"]

    disabled = (
        await gql(
            "mutation($id: ID!) { updateWebhookSubscription(input: {id: $id, active: false,"
            ' eventTypes: ["*"]}) { subscription { active eventTypes } errors { code } } }',
            {"id": hook["id"]},
            token=token,
        )
    )["updateWebhookSubscription"]
    assert disabled == {"subscription": {"active": False, "eventTypes": ["*"]}, "errors": []}
    deleted = (
        await gql(
            "mutation($id: ID!) { deleteWebhookSubscription(input: {id: $id})"
            " { deletedId errors { code } } }",
            {"id": hook["id"]},
            token=token,
        )
    )["deleteWebhookSubscription"]
    assert deleted == {"deletedId": hook["id"], "errors": []}
    assert (await gql("{ webhookSubscriptions { id } }", token=token)) == {
        "webhookSubscriptions": []
    }


async def test_bad_input_is_refused_with_the_field_named(brand_a, api_key, gql, webhook_receiver):
    token = await api_key(brand_a, "admin")
    for variables, expected in (
        ({"url": "not a url", "eventTypes": ["*"]}, (["input", "url"], "INVALID")),
        ({"url": webhook_receiver.url, "eventTypes": []}, (["input", "eventTypes"], "REQUIRED")),
        (
            {"url": webhook_receiver.url, "eventTypes": ["order.shipped"]},
            (["input", "eventTypes"], "UNKNOWN_EVENT_TYPE"),
        ),
    ):
        payload = (await gql(CREATE, {"i": variables}, token=token))["createWebhookSubscription"]
        assert [(e["field"], e["code"]) for e in payload["errors"]] == [expected]
        assert payload["secret"] is None
    assert (await gql("{ webhookSubscriptions { id } }", token=token))["webhookSubscriptions"] == []


async def test_webhooks_need_the_admin_scope(brand_a, api_key, gql, webhook_receiver):
    token = await api_key(brand_a, "read", "write", "manage")
    body = await gql(
        CREATE,
        {"i": {"url": webhook_receiver.url, "eventTypes": ["*"]}},
        token=token,
        errors_ok=True,
    )
    assert [e["extensions"]["code"] for e in body["errors"]] == ["FORBIDDEN"]
    body = await gql("{ webhookSubscriptions { id } }", token=token, errors_ok=True)
    assert [e["extensions"]["code"] for e in body["errors"]] == ["FORBIDDEN"]


async def test_the_event_types_and_schema_file_are_the_codes(brand_a, api_key, gql):
    token = await api_key(brand_a, "admin")
    listed = await gql("{ webhookEventTypes { name description } }", token=token)
    assert [t["name"] for t in listed["webhookEventTypes"]] == list(EVENT_TYPES)
    path = Path(__file__).resolve().parents[2] / "docs" / "webhook-schemas.json"
    assert json.loads(path.read_text()) == all_schemas(), (
        "regenerate: .venv/bin/python -P -m tessera.webhooks.events > docs/webhook-schemas.json"
    )
    doc = (path.parent / "webhooks.md").read_text()
    missing = [name for name in EVENT_TYPES if f"`{name}`" not in doc]
    assert not missing, f"docs/webhooks.md does not list {missing}"
