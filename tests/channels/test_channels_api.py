"""The channels API: templates refused with positions, sending through the
gate, the log, and a member's own consent with a member token."""

from __future__ import annotations

from typing import Any

from tessera.schema.ids import encode_id

CREATE = """mutation($i: CreateMessageTemplateInput!) {
  createMessageTemplate(input: $i) { template { id name } errors { code field message } } }"""
SEND = """mutation($i: SendMessageInput!) {
  sendMessage(input: $i) { message { id status reason channel } errors { code field } } }"""


async def test_a_bad_template_is_refused_with_every_position(
    brand_a: Any, api_key: Any, gql: Any
) -> None:
    token = await api_key(brand_a, "manage")
    data = await gql(
        CREATE,
        {
            "i": {
                "name": "w",
                "channel": "EMAIL",
                "subject": "{{ member.nam }}",
                "body": "Hi {{ membr }}",
                "html": "<p>x</div>",
            }
        },
        token=token,
    )
    errors = data["createMessageTemplate"]["errors"]
    assert [(e["code"], e["field"]) for e in errors] == [
        ("UNKNOWN_VARIABLE", ["input", "body"]),
        ("UNKNOWN_VARIABLE", ["input", "subject"]),
    ]
    assert errors[0]["message"] == "line 1: unknown variable 'membr'"
    listed = await gql("{ messageTemplates { id } }", token=token)
    assert listed["messageTemplates"] == []


async def test_send_hold_and_the_member_log(
    brand_a: Any, api_key: Any, gql: Any, new_member: Any
) -> None:
    manage = await api_key(brand_a, "manage")
    member = await new_member(brand_a, name="Ann", email="ann@example.com")
    made = await gql(
        CREATE,
        {
            "i": {
                "name": "news",
                "channel": "EMAIL",
                "subject": "News",
                "body": "Hi {{ member.name }}",
            }
        },
        token=manage,
    )
    template = made["createMessageTemplate"]["template"]["id"]
    writer = await api_key(brand_a, "write")
    send = {
        "memberId": member.id,
        "templateId": template,
        "purpose": "MARKETING",
        "idempotencyKey": "n-1",
    }
    held = await gql(SEND, {"i": send}, token=writer)
    assert held["sendMessage"]["message"]["status"] == "HELD"
    assert held["sendMessage"]["message"]["reason"] == "no_consent"
    again = await gql(SEND, {"i": send}, token=writer)
    assert again["sendMessage"]["message"]["id"] == held["sendMessage"]["message"]["id"]
    preview = await gql(
        "query($t: ID!, $m: ID!) { previewTemplate(templateId: $t, memberId: $m) { subject body } }",
        {"t": template, "m": member.id},
        token=manage,
    )
    assert preview["previewTemplate"] == {"subject": "News", "body": "Hi Ann"}
    reader = await api_key(brand_a, "read")
    log = await gql(
        "query($m: ID!) { messages(memberId: $m) { totalCount edges { node { status reason source } } } }",
        {"m": member.id},
        token=reader,
    )
    assert log["messages"] == {
        "totalCount": 1,
        "edges": [{"node": {"status": "HELD", "reason": "no_consent", "source": "api"}}],
    }
    # A read key cannot send.
    body = await gql(SEND, {"i": {**send, "idempotencyKey": "n-2"}}, token=reader, errors_ok=True)
    assert body["errors"][0]["extensions"]["code"] == "FORBIDDEN"


async def test_a_member_reads_and_changes_only_their_own_consent(
    brand_a: Any, api_key: Any, gql: Any, new_member: Any
) -> None:
    key = await api_key(brand_a, "write")
    ann = await new_member(brand_a, name="Ann", email="ann@example.com")
    bob = await new_member(brand_a, name="Bob", email="bob@example.com")
    issued = await gql(
        "mutation($m: ID!) { issueMemberToken(input: {memberId: $m}) { token } }",
        {"m": ann.id},
        token=key,
    )
    token = issued["issueMemberToken"]["token"]
    changed = await gql(
        "mutation { setMyConsent(input: {channel: EMAIL, purpose: MARKETING, granted: true}) { contact { consents { channel purpose granted source } } errors { code } } }",
        token=token,
    )
    assert changed["setMyConsent"]["contact"]["consents"] == [
        {"channel": "EMAIL", "purpose": "MARKETING", "granted": True, "source": "member"}
    ]
    mine = await gql("{ myConsent { consents { granted } doNotContact { channel } } }", token=token)
    assert mine["myConsent"] == {"consents": [{"granted": True}], "doNotContact": []}
    other = await gql(
        "mutation($m: ID!) { setMyConsent(input: {memberId: $m, channel: EMAIL, purpose: MARKETING, granted: true}) { errors { code } } }",
        {"m": bob.id},
        token=token,
    )
    assert [e["code"] for e in other["setMyConsent"]["errors"]] == ["NOT_FOUND"]
    bobs = await gql(
        "query($m: ID!) { memberContact(memberId: $m) { consents { granted } } }",
        {"m": bob.id},
        token=key,
    )
    assert bobs["memberContact"]["consents"] == []
    assert encode_id("Member", ann.pk) == ann.id
