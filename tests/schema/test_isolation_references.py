"""The brand wall, one foreign reference at a time.

`test_isolation.py` checks every root field with brand B's objects; a service
that looks up its first argument within the brand refuses there before any
later lookup runs, so those probes cannot see an unscoped second lookup.
Here each case is a call that succeeds with brand A's own objects; the test
swaps exactly ONE reference (an id, a code, an identity, a cursor) for brand
B's and expects the named refusal, B's rows untouched and no row of one brand
pointing at a row of another. Both brands are seeded identically through
their own keys, so the swapped object is the only difference.

Adding a case: write the document and its variables with `Ref(kind)` where a
brand's object goes (kinds are in `SEEDS`); every `Ref` becomes one probe.
`test_every_id_argument_has_a_reference_probe` derives the ID-typed arguments
from the schema, so a new one without a case here fails.

Planted faults this catches: docs/operations.md, "Brand walls", lists each
scoping call that was removed on its own, the probes that then failed here, and
the one plant the API cannot show.
"""

from __future__ import annotations

import itertools
from collections.abc import Awaitable, Callable, Iterator
from dataclasses import dataclass, field
from typing import Any

import pytest
from graphql import GraphQLInputObjectType, GraphQLList, GraphQLNonNull
from tortoise import Tortoise, connections

from tessera.config import Environment, Settings
from tessera.db import APP_LABEL
from tessera.models_base import BrandOwned
from tessera.schema import build_schema
from tessera.tenancy.models import Brand

# --- references -------------------------------------------------------------------


@dataclass(frozen=True)
class Ref:
    """A brand's object of `kind` (a key of SEEDS), or one attribute of it."""

    kind: str
    attr: str = "id"


@dataclass(frozen=True)
class Key:
    """A fresh idempotency key for every call."""


_keys = itertools.count()


def refs(value: Any, path: tuple[str, ...] = ()) -> Iterator[tuple[tuple[str, ...], Ref]]:
    if isinstance(value, Ref):
        yield path, value
    elif isinstance(value, dict):
        for k, v in value.items():
            yield from refs(v, (*path, k))
    elif isinstance(value, list):
        for i, v in enumerate(value):
            yield from refs(v, (*path, str(i)))


def resolve(value: Any, own: dict[str, Any], foreign: dict[str, Any], at: tuple[str, ...]) -> Any:
    """`value` with every Ref taken from `own`, except the one at path `at`."""

    def walk(v: Any, path: tuple[str, ...]) -> Any:
        if isinstance(v, Ref):
            source = foreign if path == at else own
            return source[v.kind][v.attr]
        if isinstance(v, Key):
            return f"iso-{next(_keys)}"
        if isinstance(v, dict):
            return {k: walk(x, (*path, k)) for k, x in v.items()}
        if isinstance(v, list):
            return [walk(x, (*path, str(i))) for i, x in enumerate(v)]
        return v

    return walk(value, ())


# --- cases ------------------------------------------------------------------------

Outcome = Callable[[dict[str, Any], tuple[str, ...]], None]


def refused(code: str = "NOT_FOUND") -> Outcome:
    """The payload's `errors` are exactly one `code` naming the swapped argument."""

    def check(body: dict[str, Any], at: tuple[str, ...]) -> None:
        assert not body.get("errors"), body
        payload = next(iter(body["data"].values()))
        assert [(e["code"], e["field"]) for e in payload["errors"]] == [(code, list(at))], payload

    return check


def not_found_error(body: dict[str, Any], at: tuple[str, ...]) -> None:
    """A GraphQL error NOT_FOUND and no data (a query's argument)."""
    assert body["data"] is None or next(iter(body["data"].values())) is None, body
    assert [e["extensions"]["code"] for e in body["errors"]] == ["NOT_FOUND"], body


def null(body: dict[str, Any], at: tuple[str, ...]) -> None:
    """A lookup by id answers null, exactly as for a missing object."""
    assert not body.get("errors"), body
    assert next(iter(body["data"].values())) is None, body


def refused_by_name(codes: dict[str, str], default: str = "NOT_FOUND") -> Outcome:
    """Like `refused`, the code chosen by the swapped argument's name."""

    def check(body: dict[str, Any], at: tuple[str, ...]) -> None:
        refused(codes.get(at[-1], default))(body, at)

    return check


def _item(at: tuple[str, ...]) -> int | None:
    return next((int(part) for part in at if part.isdigit()), None)


def per_item(results_key: str, code: str | dict[str, str] = "NOT_FOUND") -> Outcome:
    """A batch: the item holding the swapped reference is refused with NOT_FOUND
    naming it; every other item succeeds and the batch itself is not refused.
    A reference outside the items (a template for the batch) refuses the batch."""

    def check(body: dict[str, Any], at: tuple[str, ...]) -> None:
        expected = code if isinstance(code, str) else code.get(at[-1], "NOT_FOUND")
        index = _item(at)
        if index is None:
            refused(expected)(body, at)
            return
        assert not body.get("errors"), body
        payload = next(iter(body["data"].values()))
        assert payload["errors"] == [], payload
        results = payload[results_key]
        for i, result in enumerate(results):
            codes = [(e["code"], e["field"]) for e in result["errors"]]
            assert codes == ([(expected, list(at))] if i == index else []), results

    return check


def unmatched(body: dict[str, Any], at: tuple[str, ...]) -> None:
    """Bulk tagging: B's member is reported unmatched, A's own one matched."""
    assert not body.get("errors"), body
    payload = next(iter(body["data"].values()))
    assert payload["errors"] == [] and payload["matchedCount"] == 1, payload
    assert len(payload["unmatched"]) == 1, payload


def unknown_tag(body: dict[str, Any], at: tuple[str, ...]) -> None:
    assert not body.get("errors"), body
    payload = next(iter(body["data"].values()))
    assert [(e["code"], e["field"]) for e in payload["errors"]] == [("UNKNOWN_TAG", list(at))], (
        payload
    )


@dataclass(frozen=True)
class Case:
    """A call that succeeds with brand A's own objects in every `Ref`."""

    field: str
    document: str
    variables: dict[str, Any]
    refused: Outcome = field(default_factory=refused)
    # Where the refusal is reported, when not at the variable's own path.
    reported_at: Callable[[tuple[str, ...]], tuple[str, ...]] = lambda at: at
    token: str = (
        "key"  # "key": A's admin key; "member": A's member's token; "persons": A's persons key
    )
    needs: tuple[str, ...] = ()  # kinds seeded in both brands without a Ref
    ok: Callable[[dict[str, Any]], None] | None = None

    def probes(self) -> list[tuple[str, ...]]:
        return [path for path, _ in refs(self.variables)]


def _no_errors(body: dict[str, Any]) -> None:
    assert not body.get("errors"), body
    payload = next(iter(body["data"].values()))
    if isinstance(payload, dict) and "errors" in payload:
        assert payload["errors"] == [], payload
    if isinstance(payload, dict) and "results" in payload:
        assert all(r["errors"] == [] for r in payload["results"]), payload


def _found(body: dict[str, Any]) -> None:
    assert not body.get("errors"), body
    assert next(iter(body["data"].values())) is not None, body


ERR = "errors { code field }"
SCHEMA = build_schema(Settings(environment=Environment.TEST, secret_key="x" * 32))._schema  # type: ignore[arg-type]


def mutation(name: str, selection: str = ERR) -> str:
    """`name(input: $input) { selection }`, with the input's type from the schema."""
    assert SCHEMA.mutation_type is not None
    input_type = SCHEMA.mutation_type.fields[name].args["input"].type
    return f"mutation($input: {input_type}) {{ {name}(input: $input) {{ {selection} }} }}"


def order_input(member: Any, external_id: Key | str = "") -> dict[str, Any]:
    return {
        "externalId": external_id or Key(),
        "occurredAt": "2026-01-02T03:04:05+00:00",
        "memberId": member,
        "amountPaid": {"amount": "50.00", "currency": "CNY"},
    }


def event_input(member: Any) -> dict[str, Any]:
    return {
        "eventId": Key(),
        "type": "view",
        "occurredAt": "2026-01-02T03:04:05+00:00",
        "memberId": member,
    }


CASES: list[Case] = [
    # queries by id
    *(
        Case(
            f"Query.{name}",
            f"query($id: ID!) {{ {name}(id: $id) {{ id }} }}",
            {"id": Ref(kind)},
            null,
            ok=_found,
        )
        for name, kind in (
            ("member", "member"),
            ("order", "order"),
            ("tag", "tag"),
            ("couponTemplate", "template"),
            ("segment", "segment"),
            ("tier", "tier"),
        )
    ),
    Case(
        "Query.campaignResults",
        "query($campaignId: ID!) { campaignResults(campaignId: $campaignId) { campaignId } }",
        {"campaignId": Ref("results_campaign")},
        null,
        ok=_found,
    ),
    Case(
        "Query.coupon",
        "query($c: String!) { coupon(code: $c) { id } }",
        {"c": Ref("coupon", "code")},
        null,
        ok=_found,
    ),
    Case(
        "Query.person",
        "query($id: ID!) { person(id: $id) { id members { memberId } } }",
        {"id": Ref("person")},
        null,
        token="persons",
        ok=_found,
    ),
    Case(
        "Query.personByIdentity",
        "query($v: String!) { personByIdentity(kind: PHONE, value: $v) { id } }",
        {"v": Ref("member", "phone")},
        null,
        token="persons",
        needs=("person",),
        ok=_found,
    ),
    Case(
        "Query.memberByIdentity",
        "query($v: String!) { memberByIdentity(kind: PHONE, value: $v) { id } }",
        {"v": Ref("member", "phone")},
        null,
        ok=_found,
    ),
    Case(
        "Query.members",
        "query($segmentId: ID) { members(segmentId: $segmentId) { totalCount } }",
        {"segmentId": Ref("static_segment")},
        not_found_error,
    ),
    Case(
        "Query.previewOrderRewards",
        "query($order: RecordOrderInput!) { previewOrderRewards(order: $order) { totalPoints } }",
        {"order": order_input(Ref("member"))},
        not_found_error,
    ),
    # members
    Case(
        "Mutation.updateMember",
        mutation("updateMember"),
        {"input": {"id": Ref("member"), "name": "Renamed"}},
    ),
    *(
        Case(
            f"Mutation.{name}",
            mutation(name),
            {"input": {"memberId": Ref("member"), **extra}},
        )
        for name, extra in (
            ("addIdentity", {"kind": "APP_USER_ID", "value": Key()}),
            ("issueMemberToken", {}),
            ("checkIn", {}),
        )
    ),
    Case(
        "Mutation.activateMember",
        mutation("activateMember"),
        {"input": {"memberId": Ref("member")}},
        # NOTE: the refusal names `input.id`, not the argument `input.memberId`
        # (schema/members; left to the mutation-errors work of issue 11).
        reported_at=lambda at: ("input", "id"),
    ),
    Case(
        "Mutation.removeIdentity",
        mutation("removeIdentity"),
        {"input": {"memberId": Ref("member"), "kind": "EMAIL", "value": Ref("member", "email")}},
        # B's email on A's member is simply not one of A's member's identities.
        reported_at=lambda at: ("input", "value") if at[-1] == "value" else at,
    ),
    # points and stored value: A's member, and B's member in the same call shape
    *(
        Case(
            f"Mutation.{name}",
            mutation(name),
            {"input": {"memberId": Ref("funded_member"), "idempotencyKey": Key(), **extra}},
        )
        for name, extra in (
            ("earnPoints", {"points": 5}),
            ("redeemPoints", {"points": 5}),
            ("adjustPoints", {"points": -5, "reason": "probe"}),
            ("topUpStoredValue", {"amount": {"amount": "1", "currency": "CNY"}}),
            ("spendStoredValue", {"amount": {"amount": "1", "currency": "CNY"}}),
        )
    ),
    # orders and events
    Case(
        "Mutation.recordOrder",
        mutation("recordOrder"),
        {"input": order_input(Ref("member"))},
        refused("UNKNOWN_MEMBER"),
    ),
    Case(
        "Mutation.recordOrders",
        mutation("recordOrders", f"{ERR} results {{ {ERR} }}"),
        {"input": {"orders": [order_input(Ref("member")), order_input(Ref("member"))]}},
        per_item("results", "UNKNOWN_MEMBER"),
    ),
    Case(
        "Mutation.recordRefund",
        mutation("recordRefund"),
        {
            "input": {
                "externalId": Key(),
                "occurredAt": "2026-01-03T00:00:00+00:00",
                "orderId": Ref("order"),
            }
        },
    ),
    Case(
        "Mutation.recordRefund",
        mutation("recordRefund"),
        {
            "input": {
                "externalId": Key(),
                "occurredAt": "2026-01-03T00:00:00+00:00",
                "orderExternalId": Ref("order", "externalId"),
            }
        },
    ),
    Case(
        "Mutation.recordEvent",
        mutation("recordEvent"),
        {"input": event_input(Ref("member"))},
        refused("UNKNOWN_MEMBER"),
    ),
    Case(
        "Mutation.recordEvents",
        mutation("recordEvents", f"{ERR} results {{ {ERR} }}"),
        {"input": {"events": [event_input(Ref("member")), event_input(Ref("member"))]}},
        per_item("results", "UNKNOWN_MEMBER"),
    ),
    # tags
    Case(
        "Mutation.createTag",
        mutation("createTag"),
        {"input": {"code": Key(), "name": "probe", "groupId": Ref("group")}},
    ),
    Case(
        "Mutation.updateTag",
        mutation("updateTag"),
        {"input": {"id": Ref("tag"), "groupId": Ref("group")}},
    ),
    Case(
        "Mutation.deleteTag",
        mutation("deleteTag"),
        {"input": {"id": Ref("spare_tag")}},
    ),
    Case(
        "Mutation.updateTagGroup",
        mutation("updateTagGroup"),
        {"input": {"id": Ref("group"), "name": "renamed"}},
    ),
    Case(
        "Mutation.deleteTagGroup",
        mutation("deleteTagGroup"),
        {"input": {"id": Ref("spare_group")}},
    ),
    *(
        Case(
            f"Mutation.{name}",
            mutation(name, f"matchedCount unmatched {{ __typename }} {ERR}"),
            {"input": {"tags": ["vip"], "memberIds": [Ref("member"), Ref("member2")], **extra}},
            unmatched,
            needs=("tag",),
        )
        for name, extra in (("tagMembers", {}), ("untagMembers", {"anySource": True}))
    ),
    *(
        Case(
            f"Mutation.{name}",
            mutation(name, f"matchedCount unmatched {{ __typename }} {ERR}"),
            {
                "input": {
                    "tags": ["vip"],
                    "identities": [
                        {"kind": "PHONE", "value": Ref("member", "phone")},
                        {"kind": "PHONE", "value": Ref("member2", "phone")},
                    ],
                    **extra,
                }
            },
            unmatched,
            needs=("tag",),
        )
        for name, extra in (("tagMembers", {}), ("untagMembers", {"anySource": True}))
    ),
    *(
        Case(
            f"Mutation.{name}",
            mutation(name),
            # B's members with A's tag are covered above; a tag only B has is unknown in A
            {"input": {"tags": [Ref("spare_tag", "code")], "memberIds": [], **extra}},
            unknown_tag,
        )
        for name, extra in (("tagMembers", {}), ("untagMembers", {"anySource": True}))
    ),
    Case(
        "Mutation.setTagRule",
        mutation("setTagRule"),
        {
            "input": {
                "tagId": Ref("spare_tag"),
                "rule": {"type": "stats", "metric": "ordersCount", "min": 1},
            }
        },
        # NOTE: names `input.id` for the argument `input.tagId` (as activateMember).
        reported_at=lambda at: ("input", "id"),
    ),
    # coupons
    Case(
        "Mutation.updateCouponTemplate",
        mutation("updateCouponTemplate"),
        {"input": {"id": Ref("template"), "title": "renamed"}},
    ),
    Case(
        "Mutation.deleteCouponTemplate",
        mutation("deleteCouponTemplate"),
        {"input": {"id": Ref("spare_template")}},
    ),
    Case(
        "Mutation.issueCoupon",
        mutation("issueCoupon"),
        {
            "input": {
                "templateId": Ref("template"),
                "memberId": Ref("member"),
                "idempotencyKey": Key(),
            }
        },
    ),
    Case(
        "Mutation.issueCoupons",
        mutation("issueCoupons", f"{ERR} results {{ {ERR} }}"),
        {
            "input": {
                "templateId": Ref("template"),
                "memberIds": [Ref("member")],
                "idempotencyKey": Key(),
            }
        },
        per_item("results"),
    ),
    Case(
        "Mutation.redeemCoupon",
        mutation("redeemCoupon"),
        {
            "input": {
                "code": Ref("coupon", "code"),
                "memberId": Ref("member"),
                "orderId": Ref("order"),
                "idempotencyKey": Key(),
            }
        },
        # A coupon is looked up by code for its holder: another holder makes it "no such coupon".
        reported_at=lambda at: ("input", "code") if at[-1] == "memberId" else at,
    ),
    Case(
        "Mutation.redeemCoupon",
        mutation("redeemCoupon"),
        {
            "input": {
                "code": Ref("coupon", "code"),
                "memberId": Ref("member"),
                "orderAmount": {"amount": "50", "currency": "CNY"},
                "idempotencyKey": Key(),
            }
        },
        reported_at=lambda at: ("input", "code"),
    ),
    *(
        Case(
            "Mutation.voidCoupon",
            mutation("voidCoupon"),
            {"input": {ref: Ref("coupon", attr), "reason": "probe"}},
        )
        for ref, attr in (("couponId", "id"), ("code", "code"))
    ),
    # segments
    *(
        Case(
            f"Mutation.{name}",
            mutation(name),
            {"input": {"id": Ref(kind), **extra}},
        )
        for name, kind, extra in (
            ("updateSegment", "segment", {"name": "renamed"}),
            ("refreshSegment", "segment", {}),
            ("deleteSegment", "spare_segment", {}),
        )
    ),
    Case(
        "Mutation.importSegmentMembers",
        mutation("importSegmentMembers"),
        {"input": {"segmentId": Ref("static_segment"), "csv": "phone\n+8613800000000\n"}},
    ),
    # checkout holds
    Case(
        "Mutation.holdRewards",
        mutation("holdRewards"),
        {
            "input": {
                "memberId": Ref("funded_member"),
                "orderAmount": {"amount": "50.00", "currency": "CNY"},
                "points": 5,
                "idempotencyKey": Key(),
            }
        },
    ),
    Case(
        "Mutation.releaseHold",
        mutation("releaseHold"),
        {"input": {"holdId": Ref("hold"), "idempotencyKey": Key()}},
    ),
    Case(
        "Mutation.recordOrder",
        mutation("recordOrder"),
        {"input": {**order_input(Ref("funded_member")), "holdId": Ref("hold")}},
        refused_by_name({"memberId": "UNKNOWN_MEMBER"}),
    ),
    Case(
        "Mutation.recordOrders",
        mutation("recordOrders", f"{ERR} results {{ {ERR} }}"),
        {
            "input": {
                # One order: a hold is confirmed once, and the call is repeated
                # with A's own objects after each probe.
                "orders": [{**order_input(Ref("funded_member")), "holdId": Ref("hold")}]
            }
        },
        per_item("results", {"memberId": "UNKNOWN_MEMBER"}),
    ),
    Case(
        "Query.previewOrderRewards",
        "query($order: RecordOrderInput!) { previewOrderRewards(order: $order) { totalPoints } }",
        {"order": {**order_input(Ref("funded_member")), "holdId": Ref("hold")}},
        not_found_error,
    ),
    # tiers and rewards
    Case(
        "Mutation.createTier",
        mutation("createTier"),
        {
            "input": {
                "code": "silver",
                "name": "Silver",
                "rank": 2,
                "benefits": [{"kind": "BIRTHDAY_GIFT", "couponTemplateId": Ref("template")}],
            }
        },
    ),
    Case(
        "Mutation.updateTier",
        mutation("updateTier"),
        {
            "input": {
                "id": Ref("tier"),
                "benefits": [{"kind": "BIRTHDAY_GIFT", "couponTemplateId": Ref("template")}],
            }
        },
    ),
    Case(
        "Mutation.createTier",
        mutation("createTier"),
        {
            "input": {
                "code": "silver",
                "name": "Silver",
                "rank": 2,
                "giftCouponTemplateIds": [Ref("template")],
            }
        },
    ),
    Case(
        "Mutation.updateTier",
        mutation("updateTier"),
        {"input": {"id": Ref("tier"), "giftCouponTemplateIds": [Ref("template")]}},
    ),
    Case(
        "Mutation.deleteTier",
        mutation("deleteTier"),
        {"input": {"id": Ref("spare_tier")}},
    ),
    Case(
        "Mutation.redeemPointsForOrder",
        mutation("redeemPointsForOrder"),
        {
            "input": {
                "memberId": Ref("funded_member"),
                "orderId": Ref("order"),
                "points": 5,
                "idempotencyKey": Key(),
            }
        },
        # The order is looked up for the member: another member's order is "no such order".
        reported_at=lambda at: ("input", "orderId"),
    ),
    Case(
        "Mutation.redeemPointsForOrder",
        mutation("redeemPointsForOrder"),
        {
            "input": {
                "memberId": Ref("funded_member"),
                "orderExternalId": Key(),
                "orderAmount": {"amount": "50", "currency": "CNY"},
                "points": 5,
                "idempotencyKey": Key(),
            }
        },
    ),
    # merges and duplicates
    Case(
        "Mutation.mergeMembers",
        mutation("mergeMembers"),
        {
            "input": {
                "survivorId": Ref("member"),
                "mergedId": Ref("member2"),
                "idempotencyKey": Key(),
            }
        },
    ),
    Case(
        "Mutation.undoMemberMerge",
        mutation("undoMemberMerge"),
        {"input": {"mergeId": Ref("merge")}},
    ),
    Case(
        "Mutation.dismissDuplicateCandidate",
        mutation("dismissDuplicateCandidate"),
        {"input": {"id": Ref("duplicate")}},
    ),
    Case(
        "Query.memberMerge",
        "query($id: ID!) { memberMerge(id: $id) { id } }",
        {"id": Ref("merge")},
        null,
        ok=_found,
    ),
    Case(
        "Mutation.recordReferral",
        mutation("recordReferral"),
        {"input": {"referrerId": Ref("member"), "refereeId": Ref("member2")}},
    ),
    # webhooks
    *(
        Case(f"Mutation.{name}", mutation(name), {"input": {"id": Ref(kind), **extra}})
        for name, kind, extra in (
            ("updateWebhookSubscription", "webhook", {"description": "probe"}),
            ("rotateWebhookSecret", "webhook", {}),
            ("deleteWebhookSubscription", "spare_webhook", {}),
            ("replayWebhookDelivery", "webhook_delivery", {}),
        )
    ),
    Case(
        "Query.webhookDeliveries",
        "query($subscriptionId: ID) { webhookDeliveries(subscriptionId: $subscriptionId)"
        " { totalCount } }",
        {"subscriptionId": Ref("webhook")},
        not_found_error,
    ),
    # privacy
    Case(
        "Mutation.exportMemberData",
        mutation("exportMemberData"),
        {"input": {"memberId": Ref("member")}},
    ),
    Case(
        "Mutation.eraseMember",
        mutation("eraseMember"),
        {"input": {"memberId": Ref("member"), "reason": "MEMBER_REQUEST"}},
    ),
    Case(
        "Mutation.setLegalHold",
        mutation("setLegalHold"),
        {"input": {"memberId": Ref("member"), "hold": True, "reason": "probe"}},
    ),
    Case(
        "Query.memberExport",
        "query($id: ID!) { memberExport(id: $id) { id status } }",
        {"id": Ref("export")},
        null,
        ok=_found,
    ),
    Case(
        "Query.legalHold",
        "query($memberId: ID!) { legalHold(memberId: $memberId) { reason } }",
        {"memberId": Ref("held_member")},
        null,
        ok=_found,
    ),
    # slots
    Case(
        "Query.slotCreative",
        "query($id: ID!) { slotCreative(id: $id) { id } }",
        {"id": Ref("creative")},
        null,
        ok=_found,
    ),
    *(
        Case(
            f"Query.{name}",
            f'query($memberId: ID) {{ {name}(key: "home_top", memberId: $memberId) {{ key }} }}',
            {"memberId": Ref("member")},
            not_found_error,
            needs=("creative",),
        )
        for name in ("slot", "previewSlot")
    ),
    Case(
        "Mutation.createSlotCreative",
        mutation("createSlotCreative"),
        {
            "input": {
                "slot": "home_top",
                "title": "probe",
                "imageUrl": "https://a.example/p.jpg",
                "link": "/p",
                "altText": "probe",
                "audience": {"kind": "SEGMENT", "segmentId": Ref("segment")},
            }
        },
        needs=("creative",),
    ),
    Case(
        "Mutation.updateSlotCreative",
        mutation("updateSlotCreative"),
        {
            "input": {
                "id": Ref("creative"),
                "audience": {"kind": "SEGMENT", "segmentId": Ref("segment")},
            }
        },
    ),
    Case(
        "Mutation.deleteSlotCreative",
        mutation("deleteSlotCreative"),
        {"input": {"id": Ref("spare_creative")}},
    ),
    Case(
        "Mutation.recordSlotEvents",
        mutation("recordSlotEvents"),
        {
            "input": {
                "events": [
                    {
                        "eventId": Key(),
                        "slot": "home_top",
                        "kind": "CLICK",
                        "creativeId": Ref("creative"),
                        "memberId": Ref("member"),
                    }
                ]
            }
        },
    ),
    # channels
    Case(
        "Query.previewTemplate",
        "query($templateId: ID!, $memberId: ID!)"
        " { previewTemplate(templateId: $templateId, memberId: $memberId) { body } }",
        {"templateId": Ref("message_template"), "memberId": Ref("member")},
        not_found_error,
    ),
    *(
        Case(
            f"Query.{name}",
            f"query($memberId: ID!) {{ {name}(memberId: $memberId) {{ {selection} }} }}",
            {"memberId": Ref("member")},
            not_found_error,
        )
        for name, selection in (
            ("messages", "totalCount"),
            ("memberContact", "consents { granted }"),
        )
    ),
    Case(
        "Query.campaign",
        "query($id: ID!) { campaign(id: $id) { id } }",
        {"id": Ref("campaign")},
        null,
        ok=_found,
    ),
    Case(
        "Mutation.createCampaign",
        mutation("createCampaign"),
        {
            "input": {
                "name": Key(),
                "segmentId": Ref("segment"),
                "templateId": Ref("message_template"),
            }
        },
    ),
    Case(
        "Mutation.updateCampaign",
        mutation("updateCampaign"),
        {
            "input": {
                "id": Ref("campaign"),
                "segmentId": Ref("segment"),
                "templateId": Ref("message_template"),
            }
        },
    ),
    *(
        Case(f"Mutation.{name}", mutation(name), {"input": {"id": Ref(kind)}})
        for name, kind in (
            ("deleteCampaign", "campaign"),
            ("launchCampaign", "campaign"),
            ("pauseCampaign", "sending_campaign"),
            ("resumeCampaign", "paused_campaign"),
            ("cancelCampaign", "sending_campaign"),
        )
    ),
    Case(
        "Mutation.sendMessage",
        mutation("sendMessage"),
        {
            "input": {
                "memberId": Ref("member"),
                "templateId": Ref("message_template"),
                "purpose": "TRANSACTIONAL",
                "idempotencyKey": Key(),
            }
        },
    ),
    Case(
        "Mutation.setConsent",
        mutation("setConsent"),
        {
            "input": {
                "memberId": Ref("member"),
                "channel": "EMAIL",
                "purpose": "MARKETING",
                "granted": True,
            }
        },
    ),
    Case(
        "Mutation.setDoNotContact",
        mutation("setDoNotContact"),
        {"input": {"memberId": Ref("member"), "channel": "SMS", "blocked": True}},
    ),
    Case(
        "Mutation.updateMessageTemplate",
        mutation("updateMessageTemplate"),
        {"input": {"id": Ref("message_template"), "body": "Hello {{ member.name }}"}},
    ),
    Case(
        "Mutation.deleteMessageTemplate",
        mutation("deleteMessageTemplate"),
        {"input": {"id": Ref("spare_message_template")}},
    ),
    Case(
        "Mutation.createTriggerRule",
        mutation("createTriggerRule"),
        {
            "input": {
                "event": "segment.entered",
                "templateId": Ref("message_template"),
                "purpose": "MARKETING",
                "segmentId": Ref("segment"),
            }
        },
    ),
    Case(
        "Mutation.updateTriggerRule",
        mutation("updateTriggerRule"),
        {"input": {"id": Ref("trigger_rule"), "templateId": Ref("message_template")}},
    ),
    Case(
        "Mutation.deleteTriggerRule",
        mutation("deleteTriggerRule"),
        {"input": {"id": Ref("spare_trigger_rule")}},
    ),
    Case(
        "Mutation.setMyConsent",
        mutation("setMyConsent"),
        {
            "input": {
                "memberId": Ref("member"),
                "channel": "EMAIL",
                "purpose": "MARKETING",
                "granted": False,
            }
        },
        token="member",
    ),
    # a member token: the token's brand bounds every reference it sends
    Case(
        "Mutation.redeemCoupon",
        mutation("redeemCoupon"),
        {
            "input": {
                "code": Ref("coupon", "code"),
                "orderAmount": {"amount": "50", "currency": "CNY"},
                "idempotencyKey": Key(),
            }
        },
        token="member",
    ),
    Case(
        "Mutation.checkIn",
        mutation("checkIn"),
        {"input": {"memberId": Ref("member")}},
        token="member",
    ),
    Case(
        "Query.slot",
        'query($memberId: ID) { slot(key: "home_top", memberId: $memberId) { key } }',
        {"memberId": Ref("member")},
        not_found_error,
        token="member",
        needs=("creative",),
    ),
    Case(
        "Mutation.recordSlotEvents",
        mutation("recordSlotEvents"),
        {
            "input": {
                "events": [
                    {
                        "eventId": Key(),
                        "slot": "home_top",
                        "kind": "IMPRESSION",
                        "creativeId": Ref("creative"),
                    }
                ]
            }
        },
        token="member",
    ),
]


def _probe_id(case: Case, at: tuple[str, ...]) -> str:
    return f"{case.field}:{case.token}:{'.'.join(at)}"


PROBES = [(case, at) for case in CASES for at in case.probes()]


# --- both brands, seeded alike through their own keys ----------------------------

Call = Callable[..., Awaitable[dict[str, Any]]]


async def _ok(call: Call, document: str, variables: dict[str, Any] | None = None) -> Any:
    data = await call(document, variables or {})
    payload = next(iter(data.values()))
    assert not payload.get("errors"), payload
    return payload


async def _member(c: Seeder, n: int) -> dict[str, Any]:
    profile = {
        "name": f"{c.code} member {n}",
        "phone": f"+86138{c.number:02d}00000{n}",
        "email": f"m{n}@{c.code}.example",
        "externalId": f"{c.code}-m{n}",
    }
    made = await _ok(
        c.call,
        "mutation($i: CreateMemberInput!) { createMember(input: $i) { member { id } errors { code } } }",
        {"i": profile},
    )
    return {**profile, "id": made["member"]["id"]}


async def _person(c: Seeder) -> dict[str, Any]:
    """The person of the brand's member (linked by its phone after the commit)."""
    from tessera.persons.models import PersonMember
    from tessera.schema.ids import decode_id, encode_id
    from tessera.testing import drain_outbox

    member = await c.get("member")
    await drain_outbox()
    link = await PersonMember.get(member_id=decode_id(member["id"], "Member"))
    return {"id": encode_id("Person", link.person_id)}


async def _group(c: Seeder, name: str) -> dict[str, Any]:
    made = await _ok(
        c.call,
        "mutation($c: String!) { createTagGroup(input: {code: $c, name: $c}) { tagGroup { id } errors { code } } }",
        {"c": f"{c.code}-{name}"},
    )
    return made["tagGroup"]  # type: ignore[no-any-return]


async def _tag(c: Seeder, code: str) -> dict[str, Any]:
    group = await c.get("group")
    made = await _ok(
        c.call,
        "mutation($c: String!, $g: ID) { createTag(input: {code: $c, name: $c, groupId: $g})"
        " { tag { id code } errors { code } } }",
        {"c": code, "g": group["id"]},
    )
    return made["tag"]  # type: ignore[no-any-return]


async def _vip(c: Seeder) -> dict[str, Any]:
    tag = await _tag(c, "vip")
    member = await c.get("member")
    await _ok(
        c.call,
        'mutation($m: ID!) { tagMembers(input: {tags: ["vip"], memberIds: [$m]}) { errors { code } } }',
        {"m": member["id"]},
    )
    return tag


async def _template(c: Seeder) -> dict[str, Any]:
    made = await _ok(
        c.call,
        "mutation($c: String!, $cur: String!) { createCouponTemplate(input: {kind: AMOUNT_OFF,"
        ' title: $c, amountOff: {amount: "5", currency: $cur}, validDays: 30})'
        " { template { id } errors { code } } }",
        {"c": f"{c.code} five off", "cur": c.brand.currency},
    )
    return made["template"]  # type: ignore[no-any-return]


async def _coupon(c: Seeder) -> dict[str, Any]:
    template, member = await c.get("template"), await c.get("member")
    made = await _ok(
        c.call,
        "mutation($t: ID!, $m: ID!, $k: String!) { issueCoupon(input: {templateId: $t, memberId: $m,"
        " idempotencyKey: $k}) { coupon { id code } errors { code } } }",
        {"t": template["id"], "m": member["id"], "k": f"{c.code}-coupon"},
    )
    return made["coupon"]  # type: ignore[no-any-return]


async def _order(c: Seeder) -> dict[str, Any]:
    member = await c.get("member")
    external_id = f"{c.code}-order"
    made = await _ok(
        c.call,
        "mutation($i: RecordOrderInput!) { recordOrder(input: $i) { order { id } errors { code } } }",
        {
            "i": {
                "externalId": external_id,
                "occurredAt": "2026-01-02T03:04:05+00:00",
                "memberId": member["id"],
                "amountPaid": {"amount": "100.00", "currency": c.brand.currency},
            }
        },
    )
    return {"id": made["order"]["id"], "externalId": external_id}


async def _funded(c: Seeder) -> dict[str, Any]:
    member = await c.get("member")
    for mutation in (
        "earnPoints(input: {memberId: $m, points: 100, idempotencyKey: $k})",
        'topUpStoredValue(input: {memberId: $m, amount: {amount: "50", currency: $cur},'
        " idempotencyKey: $k})",
    ):
        await _ok(
            c.call,
            f"mutation($m: ID!, $k: String!, $cur: String!) {{ {mutation} {{ errors {{ code }} }} }}"
            if "$cur" in mutation
            else f"mutation($m: ID!, $k: String!) {{ {mutation} {{ errors {{ code }} }} }}",
            {"m": member["id"], "k": f"{c.code}-{mutation[:4]}"}
            | ({"cur": c.brand.currency} if "$cur" in mutation else {}),
        )
    await _ok(
        c.call,
        'mutation { setFeature(input: {component: "points.redemption", config: {points_per_unit: 1}})'
        " { errors { code } } }",
    )
    return member


async def _hold(c: Seeder) -> dict[str, Any]:
    member = await c.get("funded_member")
    made = await _ok(
        c.call,
        "mutation($m: ID!, $k: String!, $cur: String!) { holdRewards(input: {memberId: $m,"
        ' orderAmount: {amount: "50.00", currency: $cur}, points: 5, idempotencyKey: $k})'
        " { hold { id } errors { code } } }",
        {"m": member["id"], "k": f"{c.code}-hold", "cur": c.brand.currency},
    )
    return made["hold"]  # type: ignore[no-any-return]


async def _segment(c: Seeder, name: str, static: bool = False) -> dict[str, Any]:
    made = await _ok(
        c.call,
        "mutation($i: CreateSegmentInput!) { createSegment(input: $i) { segment { id } errors { code } } }",
        {
            "i": {"name": f"{c.code} {name}", "kind": "STATIC"}
            if static
            else {
                "name": f"{c.code} {name}",
                "rule": {"type": "stats", "metric": "ordersCount", "min": 0},
            }
        },
    )
    return made["segment"]  # type: ignore[no-any-return]


async def _tier(c: Seeder, code: str, rank: int) -> dict[str, Any]:
    made = await _ok(
        c.call,
        "mutation($c: String!, $r: Int!) { createTier(input: {code: $c, name: $c, rank: $r})"
        " { tier { id } errors { code } } }",
        {"c": code, "r": rank},
    )
    return made["tier"]  # type: ignore[no-any-return]


async def _webhook(c: Seeder) -> dict[str, Any]:
    made = await _ok(
        c.call,
        'mutation { createWebhookSubscription(input: {url: "http://127.0.0.1:9/hook",'
        ' eventTypes: ["*"]}) { subscription { id } errors { code } } }',
    )
    return made["subscription"]  # type: ignore[no-any-return]


async def _webhook_delivery(c: Seeder) -> dict[str, Any]:
    import uuid

    from tessera.schema.ids import decode_id, encode_id
    from tessera.scope import BrandScope
    from tessera.webhooks.models import WebhookDelivery

    hook = await c.get("webhook")
    # A failed delivery to replay, written directly: nothing is sent here.
    row = await BrandScope(c.brand).create(
        WebhookDelivery,
        delivery_id=uuid.uuid4(),
        subscription_id=decode_id(hook["id"], "WebhookSubscription"),
        event_type="member.joined",
        payload={},
        status="failed",
    )
    return {"id": encode_id("WebhookDelivery", row.id)}


async def _export(c: Seeder) -> dict[str, Any]:
    member = await c.get("member")
    made = await _ok(
        c.call,
        "mutation($m: ID!) { exportMemberData(input: {memberId: $m}) { export { id } errors { code } } }",
        {"m": member["id"]},
    )
    return made["export"]  # type: ignore[no-any-return]


async def _held_member(c: Seeder) -> dict[str, Any]:
    member = await c.get("member2")
    await _ok(
        c.call,
        'mutation($m: ID!) { setLegalHold(input: {memberId: $m, hold: true, reason: "case"})'
        " { errors { code } } }",
        {"m": member["id"]},
    )
    return member


async def _merge(c: Seeder) -> dict[str, Any]:
    survivor, merged = await _member(c, 3), await _member(c, 4)
    made = await _ok(
        c.call,
        "mutation($i: MergeMembersInput!) { mergeMembers(input: $i) { merge { id } errors { code } } }",
        {"i": {"survivorId": survivor["id"], "mergedId": merged["id"], "idempotencyKey": "seed"}},
    )
    return made["merge"]  # type: ignore[no-any-return]


async def _duplicate(c: Seeder) -> dict[str, Any]:
    from tessera.members.duplicates import claim
    from tessera.members.identities import IdentityKind
    from tessera.members.models import DuplicateCandidate
    from tessera.schema.ids import decode_id, encode_id
    from tessera.scope import BrandScope

    one, two = await _member(c, 5), await _member(c, 6)
    scope = BrandScope(c.brand)
    ids = [decode_id(m["id"], "Member") or 0 for m in (one, two)]
    await claim(scope, ids[1], ids[0], IdentityKind.PHONE)
    row = await scope.query(DuplicateCandidate).get(member_id=ids[0], other_id=ids[1])
    return {"id": encode_id("DuplicateCandidate", row.id)}


async def _creative(c: Seeder) -> dict[str, Any]:
    await _ok(
        c.call,
        'mutation { setFeature(input: {component: "slots.banner", slot: "home_top", config: {}})'
        " { errors { code } } }",
    )
    made = await _ok(
        c.call,
        'mutation { createSlotCreative(input: {slot: "home_top", title: "T",'
        ' imageUrl: "https://x.example/t.jpg", link: "/t", altText: "T"})'
        " { creative { id } errors { code } } }",
    )
    return made["creative"]  # type: ignore[no-any-return]


async def _message_template(c: Seeder, name: str) -> dict[str, Any]:
    made = await _ok(
        c.call,
        "mutation($n: String!) { createMessageTemplate(input: {name: $n, channel: EMAIL,"
        ' subject: "Hi", body: "Hi {{ member.name }}"}) { template { id } errors { code } } }',
        {"n": name},
    )
    return made["template"]  # type: ignore[no-any-return]


async def _trigger_rule(c: Seeder) -> dict[str, Any]:
    template = await c.get("message_template")
    made = await _ok(
        c.call,
        'mutation($t: ID!) { createTriggerRule(input: {event: "member.joined", templateId: $t,'
        " purpose: TRANSACTIONAL}) { rule { id } errors { code } } }",
        {"t": template["id"]},
    )
    return made["rule"]  # type: ignore[no-any-return]


async def _results_campaign(c: Seeder) -> dict[str, Any]:
    """A launched campaign written straight into the tables (attribution reads them)."""
    from datetime import UTC, datetime

    from tessera.campaigns.models import Campaign
    from tessera.channels.models import Channel, MessageTemplate
    from tessera.schema.ids import encode_id
    from tessera.scope import BrandScope

    scope = BrandScope(c.brand)
    template = await scope.create(MessageTemplate, name="results", channel=Channel.SMS, body="Hi")
    row = await scope.create(
        Campaign,
        name="results",
        template_id=template.id,
        channel=Channel.SMS,
        launched_at=datetime(2025, 3, 1, tzinfo=UTC),
    )
    return {"id": encode_id("Campaign", row.id)}


async def _campaign(c: Seeder, status: str = "draft") -> dict[str, Any]:
    from tessera.campaigns.models import Campaign
    from tessera.scope import BrandScope

    segment = await c.get("segment")
    template = await c.get("message_template")
    made = await _ok(
        c.call,
        "mutation($s: ID!, $t: ID!, $n: String!) { createCampaign(input: {name: $n,"
        " segmentId: $s, templateId: $t}) { campaign { id } errors { code } } }",
        {"s": segment["id"], "t": template["id"], "n": f"campaign-{status}"},
    )
    if status != "draft":
        # Straight to the state the case needs (the jobs that get it there are not run here).
        await (
            BrandScope(c.brand)
            .query(Campaign)
            .filter(name=f"campaign-{status}")
            .update(status=status)
        )
    return made["campaign"]  # type: ignore[no-any-return]


SEEDS: dict[str, Callable[[Seeder], Awaitable[dict[str, Any]]]] = {
    "campaign": _campaign,
    "sending_campaign": lambda c: _campaign(c, "sending"),
    "paused_campaign": lambda c: _campaign(c, "paused"),
    "message_template": lambda c: _message_template(c, "welcome"),
    "spare_message_template": lambda c: _message_template(c, "spare"),
    "trigger_rule": _trigger_rule,
    "spare_trigger_rule": _trigger_rule,
    "export": _export,
    "held_member": _held_member,
    "merge": _merge,
    "duplicate": _duplicate,
    "member": lambda c: _member(c, 1),
    "member2": lambda c: _member(c, 2),
    "funded_member": _funded,
    "group": lambda c: _group(c, "group"),
    "spare_group": lambda c: _group(c, "spare-group"),
    "tag": _vip,
    "spare_tag": lambda c: _tag(c, f"{c.code}-spare"),
    "template": _template,
    "spare_template": _template,
    "coupon": _coupon,
    "hold": _hold,
    "order": _order,
    "segment": lambda c: _segment(c, "segment"),
    "spare_segment": lambda c: _segment(c, "spare segment"),
    "static_segment": lambda c: _segment(c, "list", static=True),
    "tier": lambda c: _tier(c, "gold", 1),
    "spare_tier": lambda c: _tier(c, "bronze", 3),
    "webhook": _webhook,
    "spare_webhook": _webhook,
    "webhook_delivery": _webhook_delivery,
    "person": _person,
    "creative": _creative,
    "spare_creative": _creative,
    "results_campaign": _results_campaign,
}


@dataclass
class Seeder:
    brand: Brand
    code: str
    number: int
    call: Call
    objects: dict[str, dict[str, Any]] = field(default_factory=dict)

    async def get(self, kind: str) -> dict[str, Any]:
        if kind not in self.objects:
            self.objects[kind] = await SEEDS[kind](self)
        return self.objects[kind]


@dataclass
class Brands:
    a: Seeder
    b: Seeder
    member_token: Callable[[], Awaitable[str]]
    gql: Call


@pytest.fixture
async def brands(brand_a: Brand, brand_b: Brand, api_key: Any, gql: Call) -> Brands:
    def caller(token: str) -> Call:
        async def call(
            query: str, variables: dict[str, Any] | None = None, **kw: Any
        ) -> dict[str, Any]:
            return await gql(query, variables, token=token, **kw)

        return call

    a = Seeder(brand_a, "a", 1, caller(await api_key(brand_a, "admin")))
    b = Seeder(brand_b, "b", 2, caller(await api_key(brand_b, "admin")))

    async def member_token() -> str:
        member = await a.get("member")
        issued = await _ok(
            a.call,
            "mutation($m: ID!) { issueMemberToken(input: {memberId: $m}) { token errors { code } } }",
            {"m": member["id"]},
        )
        return issued["token"]  # type: ignore[no-any-return]

    return Brands(a, b, member_token, gql)


def brand_owned_models() -> list[type[BrandOwned]]:
    return [m for m in Tortoise.apps[APP_LABEL].values() if issubclass(m, BrandOwned)]


async def rows_of(brand: Brand) -> dict[str, list[dict[str, Any]]]:
    """Every brand-owned row of `brand`, table by table."""
    return {
        model.__name__: await model.filter(brand_id=brand.id).order_by(model._meta.pk_attr).values()
        for model in brand_owned_models()
    }


def brand_links() -> list[tuple[str, str, str, str]]:
    """(table, column, referenced table, referenced column) of every foreign key
    from a brand-owned row to another brand-owned row."""
    links = []
    for model in brand_owned_models():
        for name in (*model._meta.fk_fields, *model._meta.o2o_fields):
            target = model._meta.fields_map[name].related_model  # type: ignore[attr-defined]
            if issubclass(target, BrandOwned):
                column = model._meta.fields_map[name].source_field or f"{name}_id"  # type: ignore[attr-defined]
                links.append(
                    (
                        model._meta.db_table,
                        column,
                        target._meta.db_table,
                        target._meta.pk.source_field or "id",
                    )
                )
    return sorted(links)


async def cross_brand_links() -> list[str]:
    """Rows of one brand pointing at a row of another: the wall's breach, however it came."""
    conn = connections.get("default")
    found = []
    for table, column, target, key in brand_links():
        rows = await conn.execute_query_dict(
            f'SELECT c."{column}" AS ref FROM "{table}" c JOIN "{target}" t '
            f'ON t."{key}" = c."{column}" WHERE t.brand_id <> c.brand_id'
        )
        found += [f"{table}.{column} -> {target} {row['ref']}" for row in rows]
    return found


# --- the tests --------------------------------------------------------------------


@pytest.mark.parametrize(("case", "at"), PROBES, ids=[_probe_id(case, at) for case, at in PROBES])
async def test_one_foreign_reference_is_refused(
    case: Case, at: tuple[str, ...], brands: Brands
) -> None:
    kinds = {ref.kind for _, ref in refs(case.variables)} | set(case.needs)
    own = {kind: await brands.a.get(kind) for kind in sorted(kinds)}
    foreign = {kind: await brands.b.get(kind) for kind in sorted(kinds)}
    token = await brands.member_token() if case.token == "member" else None
    if case.token == "persons":
        # A tenant-wide key of A's tenant (docs/persons.md): still nothing of B's.
        from tessera.auth.api_keys import create_api_key

        issued = await create_api_key(brands.a.brand, "persons", ["persons"], tenant_wide=True)
        token = issued.token
    call = (
        brands.a.call if token is None else (lambda q, v, **kw: brands.gql(q, v, token=token, **kw))
    )
    b_before = await rows_of(brands.b.brand)

    body = await call(case.document, resolve(case.variables, own, foreign, at), errors_ok=True)
    case.refused(body, case.reported_at(at))
    assert await rows_of(brands.b.brand) == b_before
    assert await cross_brand_links() == []

    # The same call with A's own object in that place goes through: the swap,
    # nothing else, is what was refused.
    body = await call(case.document, resolve(case.variables, own, foreign, ()), errors_ok=True)
    (case.ok or _no_errors)(body)
    assert await cross_brand_links() == []


def _id_arguments() -> set[tuple[str, tuple[str, ...]]]:
    """(root field, argument path) of every ID-typed argument, lists as item 0."""
    schema = build_schema(Settings(environment=Environment.TEST, secret_key="x" * 32))._schema  # type: ignore[arg-type]
    found: set[tuple[str, tuple[str, ...]]] = set()

    def walk(root: str, type_: Any, path: tuple[str, ...]) -> None:
        while isinstance(type_, GraphQLNonNull | GraphQLList):
            if isinstance(type_, GraphQLList):
                path = (*path, "0")
            type_ = type_.of_type
        if type_.name == "ID":
            found.add((root, path))
        elif isinstance(type_, GraphQLInputObjectType):
            for name, input_field in type_.fields.items():
                walk(root, input_field.type, (*path, name))

    for root_type in (schema.query_type, schema.mutation_type):
        assert root_type is not None
        for name, root_field in root_type.fields.items():
            for arg, argument in root_field.args.items():
                walk(f"{root_type.name}.{name}", argument.type, (arg,))
    return found


def test_every_id_argument_has_a_reference_probe() -> None:
    covered = {(case.field, tuple("0" if p.isdigit() else p for p in at)) for case, at in PROBES}
    missing = sorted(_id_arguments() - covered)
    assert not missing, f"add a Case to {__name__} for: {missing}"


# --- references that are not arguments of a root field ----------------------------


async def test_members_filtered_by_a_tag_code_are_the_brands_own(brands: Brands) -> None:
    # Both brands have a "vip" tag on their member: the code means A's tag in A.
    a_vip, _ = await brands.a.get("tag"), await brands.b.get("tag")
    a_member = await brands.a.get("member")
    for condition in ({"any": ["vip"]}, {"all": ["vip"]}):
        data = await brands.a.call(
            "query($f: MemberFilterInput) { members(filter: $f) { totalCount edges { node { id } } } }",
            {"f": {"tags": condition}},
        )
        assert data["members"]["totalCount"] == 1, condition
        assert [e["node"]["id"] for e in data["members"]["edges"]] == [a_member["id"]]
    data = await brands.a.call(
        "query($f: MemberFilterInput) { members(filter: $f) { totalCount } }",
        {"f": {"tags": {"none": ["vip"]}}},
    )
    assert data["members"]["totalCount"] == 0
    assert a_vip["code"] == "vip"


CONNECTIONS = {
    "orders": "edges { cursor node { id } }",
    "events": "edges { cursor node { eventId } }",
    "ledger": "edges { cursor node { amount idempotencyKey } }",
}


async def _nested(
    call: Call, member: dict[str, Any], cursors: dict[str, str | None]
) -> dict[str, Any]:
    fields = " ".join(
        f"{name}(first: 10, after: ${name}) {{ {selection} }}"
        for name, selection in CONNECTIONS.items()
    )
    document = (
        "query($m: ID!, $orders: String, $events: String, $ledger: String)"
        f" {{ member(id: $m) {{ {fields} }} }}"
    )
    body = await call(document, {"m": member["id"], **cursors}, errors_ok=True)
    assert all(
        e["extensions"].get("code") != "INTERNAL_SERVER_ERROR" for e in body.get("errors") or []
    ), body
    return body


async def _activity(c: Seeder) -> None:
    """Two orders, two events and ledger entries for the brand's member."""
    await c.get("funded_member")
    await c.get("order")
    member = await c.get("member")
    for n in (2, 3):
        await _ok(
            c.call,
            "mutation($i: RecordOrderInput!) { recordOrder(input: $i) { errors { code } } }",
            {
                "i": {
                    **order_input(member["id"], f"{c.code}-order-{n}"),
                    "amountPaid": {"amount": "1", "currency": c.brand.currency},
                }
            },
        )
        await _ok(
            c.call,
            "mutation($i: RecordEventInput!) { recordEvent(input: $i) { errors { code } } }",
            {"i": {**event_input(member["id"]), "eventId": f"{c.code}-event-{n}"}},
        )


def _leaves(body: dict[str, Any]) -> set[str]:
    """Every order id, event id and ledger key a nested answer shows."""
    member = (body.get("data") or {}).get("member") or {}
    found: set[str] = set()
    for connection in ("orders", "events", "ledger"):
        for edge in (member.get(connection) or {}).get("edges", []):
            node = edge["node"]
            found.add(str(node.get("id") or node.get("eventId") or node.get("idempotencyKey")))
    return found


async def test_nested_lists_given_another_brands_cursor_show_only_their_member(
    brands: Brands,
) -> None:
    await _activity(brands.a)
    await _activity(brands.b)
    a_member, b_member = await brands.a.get("member"), await brands.b.get("member")
    none = dict.fromkeys(CONNECTIONS)
    a_all = _leaves(await _nested(brands.a.call, a_member, none))
    b_body = await _nested(brands.b.call, b_member, none)
    b_all = _leaves(b_body)
    assert a_all and b_all and not a_all & b_all
    # Each of B's cursors, given to the same list of A's member.
    for name in CONNECTIONS:
        for edge in b_body["data"]["member"][name]["edges"]:
            shown = _leaves(await _nested(brands.a.call, a_member, {**none, name: edge["cursor"]}))
            assert shown <= a_all, (name, edge["cursor"])
    # Nor does A's key read B's member through B's id and B's cursor together.
    first = b_body["data"]["member"]["orders"]["edges"][0]["cursor"]
    body = await _nested(brands.a.call, b_member, {**none, "orders": first})
    assert (body.get("data") or {}).get("member") is None


async def test_a_member_token_reaches_only_its_own_member(brands: Brands) -> None:
    await _activity(brands.a)
    await _activity(brands.b)
    await brands.a.get("coupon")
    b_coupon = await brands.b.get("coupon")
    a_member = await brands.a.get("member")
    token = await brands.member_token()
    me = await brands.gql(
        "{ me { id coupons { edges { node { code } } } orders(first: 10) { edges { node { id } } } } }",
        token=token,
    )
    assert me["me"]["id"] == a_member["id"]
    mine = [e["node"]["code"] for e in me["me"]["coupons"]["edges"]]
    assert mine and b_coupon["code"] not in mine
    assert len(me["me"]["orders"]["edges"]) == 3
    # A member token carries no brand key's reach: another member, B's included, is not there.
    for member in (await brands.a.get("member2"), await brands.b.get("member")):
        body = await brands.gql(
            "query($id: ID!) { member(id: $id) { id } }",
            {"id": member["id"]},
            token=token,
            errors_ok=True,
        )
        assert not (body.get("data") or {}).get("member"), body
