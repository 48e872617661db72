"""Campaigns over GraphQL: a refused draft names its fields, a launched one
sends and shows its counts, a bad transition is a payload error."""

from __future__ import annotations

from typing import Any

from tessera.channels import service as channels
from tessera.channels.models import Channel, Purpose
from tessera.schema.ids import encode_id
from tessera.scope import BrandScope

CREATE = """
mutation($i: CreateCampaignInput!) {
  createCampaign(input: $i) { campaign { id status channel } errors { code field } }
}"""
ACT = """
mutation($id: ID!) {
  launchCampaign(input: {id: $id}) { campaign { status } errors { code field } }
}"""
PAUSE = """
mutation($id: ID!) {
  pauseCampaign(input: {id: $id}) { campaign { status } errors { code field } }
}"""
READ = """
query($id: ID!) {
  campaign(id: $id) {
    name status lastError
    counts { audience holdout targeted held heldByReason { reason count } queued failed
             failedByReason { reason count } }
  }
  campaigns(first: 5) { totalCount edges { node { name } } }
}"""


async def test_a_campaign_over_graphql(
    brand_a: Any,
    api_key: Any,
    gql: Any,
    bulk_members: Any,
    static_segment: Any,
    drain_outbox: Any,
) -> None:
    key = await api_key(brand_a, "read", "write", "manage")
    scope = BrandScope(brand_a)
    ids = await bulk_members(brand_a, [{"email": f"g{i}@example.com"} for i in range(4)])
    await channels.set_consent(scope, ids[0], Channel.EMAIL, Purpose.MARKETING, True, "test")
    segment = await static_segment(brand_a, "four", ids)
    template = await channels.create_template(
        scope, name="t", channel=Channel.EMAIL, subject="s", body="Hi"
    )
    refused = await gql(
        CREATE,
        {
            "i": {
                "name": "",
                "segmentId": encode_id("Segment", 999999),
                "templateId": encode_id("MessageTemplate", template.id),
                "holdoutShare": "0.9",
            }
        },
        token=key,
    )
    assert {(e["code"], tuple(e["field"])) for e in refused["createCampaign"]["errors"]} == {
        ("REQUIRED", ("input", "name")),
        ("NOT_FOUND", ("input", "segmentId")),
        ("OUT_OF_RANGE", ("input", "holdoutShare")),
    }
    made = await gql(
        CREATE,
        {
            "i": {
                "name": "spring",
                "segmentId": encode_id("Segment", segment.id),
                "templateId": encode_id("MessageTemplate", template.id),
            }
        },
        token=key,
    )
    campaign = made["createCampaign"]["campaign"]
    assert (campaign["status"], campaign["channel"]) == ("DRAFT", "EMAIL")
    paused = await gql(PAUSE, {"id": campaign["id"]}, token=key)
    assert paused["pauseCampaign"]["errors"] == [
        {"code": "INVALID_STATE", "field": ["input", "id"]}
    ]
    launched = await gql(ACT, {"id": campaign["id"]}, token=key)
    assert launched["launchCampaign"] == {"campaign": {"status": "PREPARING"}, "errors": []}
    await drain_outbox()
    read = await gql(READ, {"id": campaign["id"]}, token=key)
    no_sender = "no email sender is enabled for the brand"
    assert read["campaign"] == {
        "name": "spring",
        "status": "COMPLETED",
        "lastError": no_sender,
        "counts": {
            "audience": 4,
            "holdout": 0,
            "targeted": 4,
            "held": 3,
            "heldByReason": [{"reason": "no_consent", "count": 3}],
            "queued": 0,
            "failed": 1,
            "failedByReason": [{"reason": no_sender, "count": 1}],
        },
    }
    assert read["campaigns"] == {"totalCount": 1, "edges": [{"node": {"name": "spring"}}]}
