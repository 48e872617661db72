"""The rule language: parsing with paths a person can follow, the published
JSON Schema, time windows in the brand's timezone, and previewSegment."""

from __future__ import annotations

from datetime import UTC, date, datetime, timedelta
from typing import Any
from zoneinfo import ZoneInfo

import pytest

from tessera.errors import DomainErrors
from tessera.members.models import Member
from tessera.schema.ids import encode_id
from tessera.segments.models import Segment, SegmentMembership
from tessera.segments.rules import (
    LEAVES,
    MAX_DEPTH,
    Rule,
    Window,
    parse_rule,
    reads_clock,
    referenced_segments,
)
from tessera.tags.models import Tag, TagAssignment


def problems(data: Any) -> list[tuple[list[str] | None, str]]:
    with pytest.raises(DomainErrors) as caught:
        parse_rule(data)
    return [(e.field, e.message) for e in caught.value.errors]


def test_a_rule_round_trips_through_json():
    data = {
        "all": [
            {"type": "tier", "atLeast": "gold"},
            {"type": "orders", "within": {"lastDays": 90}, "categories": ["skincare"]},
            {"not": {"type": "orders", "within": {"lastDays": 30}, "categories": ["skincare"]}},
            {"any": [{"type": "segment", "segment": 7}, {"type": "birthday", "thisMonth": True}]},
            {"type": "stats", "metric": "totalSpent", "min": "1000"},
        ]
    }
    rule = parse_rule(data)
    assert rule.to_json() == data
    assert parse_rule(rule.to_json()) == rule
    assert referenced_segments(rule) == {7}


def test_every_problem_is_reported_with_its_path():
    found = problems(
        {
            "all": [
                {"type": "tags", "has": "any", "codes": ["vip"]},
                {"type": "spend"},
                {"type": "stats", "metric": "totalSpent", "min": 500, "max": 100},
                {"type": "orders", "within": {"lastDays": 0}, "colour": "red"},
                {"not": {"type": "events", "event": "view", "count": {"min": "lots"}}},
            ]
        }
    )
    paths = {tuple(path or []): message for path, message in found}
    assert paths[("rule", "all", "1")].startswith("unknown condition")
    assert paths[("rule", "all", "2", "max")] == "max is smaller than min"
    assert paths[("rule", "all", "3", "within", "lastDays")] == "must be at least 1"
    assert paths[("rule", "all", "3", "colour")] == "colour is not a setting of this condition"
    assert paths[("rule", "all", "4", "not", "count", "min")] == "must be a whole number"
    assert len(found) == 5


@pytest.mark.parametrize(
    ("data", "path", "message"),
    [
        ({"type": "profile", "field": "gender", "in": ["f"]}, ["rule", "in"], "gender is one of"),
        ({"type": "birthday"}, ["rule"], "give exactly one of thisMonth"),
        ({"type": "age", "min": 40, "max": 30}, ["rule", "max"], "max is smaller than min"),
        (
            {"type": "joined", "within": {"from": "2025-02-01", "to": "2025-01-01"}},
            ["rule", "within", "to"],
            "the window ends before it starts",
        ),
        (
            {"type": "joined", "within": {"lastDays": 3, "period": "today"}},
            ["rule", "within"],
            "give exactly one of lastDays",
        ),
        ({"type": "lifecycle", "in": ["asleep"]}, ["rule", "in", "0"], "must be one of"),
        ({"type": "stats", "metric": "ordersCount", "min": 1.5}, ["rule", "min"], "whole number"),
        ({"type": "attribute", "key": "Skin", "equals": 1}, ["rule", "key"], "lower-case"),
        ({"type": "attribute", "key": "x", "min": "soon"}, ["rule", "min"], "numbers or of dates"),
        ({"type": "attribute", "key": "x", "in": [1, "a"]}, ["rule", "in"], "one type"),
        ({"type": "tier", "in": ["gold"], "atLeast": "gold"}, ["rule"], "exactly one of in"),
        ({"type": "rfm"}, ["rule"], "give recency"),
        ({"type": "segment", "segment": 0}, ["rule", "segment"], "must be at least 1"),
        ({"all": []}, ["rule", "all"], "needs at least 1"),
        ("everyone", ["rule"], "unknown condition"),
    ],
)
def test_bad_rules_name_the_field(data: Any, path: list[str], message: str):
    [(found_path, found_message)] = problems(data)
    assert found_path == path
    assert message in found_message


def test_nesting_and_size_are_limited():
    deep: dict[str, Any] = {"type": "profile", "field": "city", "in": ["x"]}
    for _ in range(MAX_DEPTH):
        deep = {"not": deep}
    [(path, message)] = problems(deep)
    assert path == ["rule", *["not"] * MAX_DEPTH]
    assert "levels deep" in message
    wide = {"any": [{"all": [{"type": "coupons"}] * 60}, {"all": [{"type": "coupons"}] * 60}]}
    [(_, message)] = problems(wide)
    assert "at most 100 conditions" in message


def test_reads_clock_only_for_time_dependent_rules():
    assert reads_clock(parse_rule({"type": "orders", "within": {"lastDays": 30}}))
    assert reads_clock(parse_rule({"type": "tags", "has": "any", "codes": ["vip"]}))
    assert not reads_clock(
        parse_rule({"type": "orders", "within": {"from": "2024-01-01", "to": "2024-12-31"}})
    )
    assert not reads_clock(parse_rule({"type": "stats", "metric": "totalSpent", "min": 1}))


def test_the_json_schema_describes_every_condition():
    schema = Rule.model_json_schema(by_alias=True)
    consts = {
        definition["properties"]["type"]["const"]
        for definition in schema["$defs"].values()
        if "type" in definition.get("properties", {})
        and "const" in definition["properties"]["type"]
    }
    assert consts == set(LEAVES)
    window = schema["$defs"]["Window"]["properties"]
    assert {"lastDays", "olderThanDays", "period", "from", "to"} == set(window)
    assert all(
        d.get("additionalProperties") is False
        for d in schema["$defs"].values()
        if d.get("type") == "object"
    )


@pytest.mark.parametrize(
    ("window", "start", "end"),
    [
        # 2025-03-09 01:30 UTC is 2025-03-08 20:30 in New York (EST, DST starts 03-09).
        ({"lastDays": 1}, datetime(2025, 3, 8, 5, tzinfo=UTC), None),
        ({"lastDays": 2}, datetime(2025, 3, 7, 5, tzinfo=UTC), None),
        ({"olderThanDays": 1}, None, datetime(2025, 3, 8, 5, tzinfo=UTC)),
        ({"period": "today"}, datetime(2025, 3, 8, 5, tzinfo=UTC), datetime(2025, 3, 9, 5, tzinfo=UTC)),
        # The next day is 23 hours long: local midnight moves to 04:00 UTC.
        ({"period": "this_week"}, datetime(2025, 3, 3, 5, tzinfo=UTC), datetime(2025, 3, 10, 4, tzinfo=UTC)),
        ({"period": "last_month"}, datetime(2025, 2, 1, 5, tzinfo=UTC), datetime(2025, 3, 1, 5, tzinfo=UTC)),
        ({"period": "last_year"}, datetime(2024, 1, 1, 5, tzinfo=UTC), datetime(2025, 1, 1, 5, tzinfo=UTC)),
        ({"from": "2025-01-01", "to": "2025-01-31"}, datetime(2025, 1, 1, 5, tzinfo=UTC), datetime(2025, 2, 1, 5, tzinfo=UTC)),
    ],
)  # fmt: skip
def test_windows_are_local_days_turned_into_utc(window, start, end):
    bounds = Window.model_validate(window).bounds(
        datetime(2025, 3, 9, 1, 30, tzinfo=UTC), "America/New_York"
    )
    assert (bounds.start, bounds.end) == (start, end)


# --- over GraphQL ---------------------------------------------------------------

PREVIEW = """
query($rule: JSON!, $sample: Int) {
  previewSegment(rule: $rule, sample: $sample) {
    count sample { id name } errors { field message code }
  }
}
"""


async def test_preview_counts_and_samples_without_saving(brand_a, brand_b, api_key, gql):
    vip = await Tag.create(brand_id=brand_a.id, code="vip", name="VIP")
    joined = datetime.now(UTC) - timedelta(days=10)
    members = [
        await Member.create(brand_id=brand_a.id, name=f"m{i}", joined_at=joined) for i in range(3)
    ]
    for m in members[:2]:
        await TagAssignment.create(
            brand_id=brand_a.id, tag_id=vip.id, member_id=m.id, source="manual"
        )
    b_vip = await Tag.create(brand_id=brand_b.id, code="vip", name="VIP")
    b_member = await Member.create(brand_id=brand_b.id, name="b", joined_at=joined)
    await TagAssignment.create(
        brand_id=brand_b.id, tag_id=b_vip.id, member_id=b_member.id, source="manual"
    )
    token = await api_key(brand_a, "read")
    rule = {
        "all": [
            {"type": "tags", "has": "any", "codes": ["vip"]},
            {"type": "joined", "within": {"lastDays": 30}},
        ]
    }

    data = await gql(PREVIEW, {"rule": rule, "sample": 1}, token=token)

    preview = data["previewSegment"]
    assert preview["errors"] == []
    assert preview["count"] == 2
    assert preview["sample"] == [{"id": encode_id("Member", members[1].id), "name": "m1"}]
    assert await Segment.filter(brand_id=brand_a.id).count() == 0


async def test_preview_reports_bad_rules_with_paths(brand_a, api_key, gql):
    token = await api_key(brand_a, "read")
    rule = {"all": [{"type": "tags", "has": "any", "codes": ["ghost"]}, {"type": "age", "min": -1}]}
    data = await gql(PREVIEW, {"rule": rule}, token=token)
    assert data["previewSegment"]["count"] == 0
    assert data["previewSegment"]["errors"] == [
        {"field": ["rule", "all", "1", "min"], "message": "must be at least 0", "code": "INVALID"}
    ]
    rule = {"all": [{"type": "tags", "has": "any", "codes": ["ghost"]}]}
    data = await gql(PREVIEW, {"rule": rule}, token=token)
    assert data["previewSegment"]["errors"] == [
        {
            "field": ["rule", "all", "0", "codes"],
            "message": "no tag with code ghost",
            "code": "UNKNOWN_TAG",
        }
    ]


async def test_preview_takes_a_segment_by_its_opaque_id(brand_a, brand_b, api_key, gql):
    m = await Member.create(brand_id=brand_a.id, name="in", joined_at=datetime.now(UTC))
    segment = await Segment.create(brand_id=brand_a.id, name="s", kind="dynamic")
    await SegmentMembership.create(
        brand_id=brand_a.id, segment_id=segment.id, member_id=m.id, entered_at=datetime.now(UTC)
    )
    token = await api_key(brand_a, "read")
    rule = {"type": "segment", "segment": encode_id("Segment", segment.id)}
    data = await gql(PREVIEW, {"rule": rule}, token=token)
    assert data["previewSegment"]["count"] == 1
    token_b = await api_key(brand_b, "read")
    data = await gql(PREVIEW, {"rule": rule}, token=token_b)
    assert data["previewSegment"]["errors"][0]["code"] == "NOT_FOUND"


async def test_segment_rule_schema_is_published(brand_a, api_key, gql):
    token = await api_key(brand_a, "read")
    data = await gql("{ segmentRuleSchema }", token=token)
    assert data["segmentRuleSchema"] == Rule.model_json_schema(by_alias=True)


async def test_birthday_preview_uses_today_in_the_brand_timezone(brand_a, api_key, gql):
    # brand_a is in Asia/Shanghai. One member born in each month: whatever the
    # server's clock says, exactly one is born "this month", and it is the
    # month of the brand's calendar around the request (read before and after,
    # so a request across midnight cannot make the test flaky).
    shanghai = ZoneInfo("Asia/Shanghai")
    for month in range(1, 13):
        await Member.create(
            brand_id=brand_a.id,
            name=f"m{month}",
            birthday=date(1990, month, 15),
            joined_at=datetime.now(UTC),
        )
    token = await api_key(brand_a, "read")
    before = datetime.now(shanghai).month
    data = await gql(
        "query($rule: JSON!) { previewSegment(rule: $rule) { count sample { birthday } } }",
        {"rule": {"type": "birthday", "thisMonth": True}},
        token=token,
    )
    after = datetime.now(shanghai).month
    assert data["previewSegment"]["count"] == 1
    month = date.fromisoformat(data["previewSegment"]["sample"][0]["birthday"]).month
    assert month in {before, after}
