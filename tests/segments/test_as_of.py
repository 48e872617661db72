"""History analysed as of a date: an old CRM's 1997-98 purchases, imported
today, are scored and segmented as they stood then, not all churned."""

from __future__ import annotations

from datetime import UTC, date, datetime
from decimal import Decimal

import pytest

from tessera.errors import DomainError
from tessera.members.service import create_member
from tessera.orders.inputs import MemberRef, OrderInput
from tessera.orders.money import MoneyAmount
from tessera.pipeline.orders import record_order
from tessera.schema.ids import encode_id
from tessera.scope import BrandScope
from tessera.segments import lifecycle
from tessera.segments.jobs import segments_nightly
from tessera.segments.lifecycle import Stage
from tessera.segments.models import MemberLifecycle

AS_OF = date(1998, 6, 30)
RECENT = {"type": "orders", "within": {"lastDays": 90}}
PREVIEW = """query($rule: JSON!, $asOf: Date) {
  previewSegment(rule: $rule, asOf: $asOf) { count sample { id } errors { field code } } }"""


async def _history(brand) -> dict[str, int]:
    """Three members of an old CRM (brand_a keeps Shanghai time, UTC+8)."""
    scope = BrandScope(brand)
    orders = {
        # Last bought 10 days before the as-of day.
        "recent": ["1997-11-02T10:00:00+08:00", "1998-06-20T10:00:00+08:00"],
        # Last bought more than a year before it.
        "lapsed": ["1997-03-01T10:00:00+08:00"],
        # Bought at 07:00 on 1 July in Shanghai (23:00 on 30 June UTC): after the
        # as-of day on the brand's calendar, so not yet bought as of 30 June.
        "later": ["1997-05-01T10:00:00+08:00", "1998-07-01T07:00:00+08:00"],
    }
    ids = {}
    for name, times in orders.items():
        member = await create_member(
            scope,
            {"name": name},
            identities=[("app_user_id", f"old-{name}")],
            joined_at=datetime(1997, 1, 1, tzinfo=UTC),
        )
        ids[name] = member.id
        for n, at in enumerate(times):
            await record_order(
                scope,
                OrderInput(
                    external_id=f"{name}-{n}",
                    member=MemberRef(member_id=member.id),
                    occurred_at=datetime.fromisoformat(at),
                    amount_paid=MoneyAmount(Decimal("100"), "CNY"),
                ),
            )
    return ids


async def _lifecycle(brand, ids) -> dict[str, tuple[str, int | None]]:
    rows = await BrandScope(brand).query(MemberLifecycle).all()
    by_id = {row.member_id: (row.stage, row.frequency_score) for row in rows}
    return {name: by_id[i] for name, i in ids.items()}


async def test_lifecycle_and_rfm_as_of_a_past_day(brand_a):
    ids = await _history(brand_a)
    scope = BrandScope(brand_a)

    await lifecycle.recompute_brand(scope)
    today = await _lifecycle(brand_a, ids)
    assert today == {name: (Stage.CHURNED.value, None) for name in ids}

    at = await lifecycle.recompute_brand(scope, as_of=AS_OF)
    assert at == datetime(1998, 6, 30, 15, 59, 59, 999999, tzinfo=UTC)  # day's end in Shanghai
    then = await _lifecycle(brand_a, ids)
    assert then["recent"][0] == Stage.ACTIVE.value  # two orders, the last 10 days before
    assert then["lapsed"][0] == Stage.CHURNED.value
    assert then["later"][0] == Stage.CHURNED.value  # its July order had not happened yet
    # Scores only for orders in the year before the as-of day, and July's not counted.
    assert then["recent"][1] is not None
    assert then["lapsed"][1] is None and then["later"][1] is None


async def test_the_nightly_run_scores_the_present_again(brand_a):
    ids = await _history(brand_a)
    await lifecycle.recompute_brand(BrandScope(brand_a), as_of=AS_OF)
    await segments_nightly({}, brand_a.id)
    assert await _lifecycle(brand_a, ids) == {name: (Stage.CHURNED.value, None) for name in ids}


async def test_an_as_of_day_in_the_future_is_refused(brand_a):
    with pytest.raises(DomainError) as refused:
        await lifecycle.recompute_brand(BrandScope(brand_a), as_of=date(2999, 1, 1))
    assert (refused.value.code, refused.value.field) == ("INVALID", ["asOf"])


async def test_preview_reads_relative_windows_as_of_the_day(brand_a, api_key, gql):
    ids = await _history(brand_a)
    token = await api_key(brand_a, "read")

    now = (await gql(PREVIEW, {"rule": RECENT}, token=token))["previewSegment"]
    then = (await gql(PREVIEW, {"rule": RECENT, "asOf": "1998-06-30"}, token=token))[
        "previewSegment"
    ]
    after = (await gql(PREVIEW, {"rule": RECENT, "asOf": "1998-07-01"}, token=token))[
        "previewSegment"
    ]

    assert now["count"] == 0
    assert then["errors"] == [] and then["sample"] == [{"id": encode_id("Member", ids["recent"])}]
    assert after["count"] == 2  # 1 July in Shanghai: the later order is in


async def test_preview_refuses_a_future_as_of_day_naming_it(brand_a, api_key, gql):
    token = await api_key(brand_a, "read")
    data = await gql(PREVIEW, {"rule": RECENT, "asOf": "2999-01-01"}, token=token)
    assert data["previewSegment"]["errors"] == [{"field": ["asOf"], "code": "INVALID"}]


async def test_recompute_lifecycle_through_the_api(brand_a, api_key, gql):
    ids = await _history(brand_a)
    token = await api_key(brand_a, "admin")
    done = await gql(
        """mutation($input: RecomputeLifecycleInput!) {
             recomputeLifecycle(input: $input) { asOf errors { field code } } }""",
        {"input": {"asOf": "1998-06-30"}},
        token=token,
    )
    assert done["recomputeLifecycle"] == {"asOf": "1998-06-30T15:59:59.999999+00:00", "errors": []}
    member = await gql(
        "query($id: ID!) { member(id: $id) { lifecycleStage rfm { frequency computedAt } } }",
        {"id": encode_id("Member", ids["recent"])},
        token=token,
    )
    assert member["member"]["lifecycleStage"] == "ACTIVE"
    assert member["member"]["rfm"]["computedAt"] == "1998-06-30T15:59:59.999999+00:00"
