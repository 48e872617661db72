"""The dashboard's figures and charts: days of the brand's time zone, active
members, points liability, this month against last, in a fixed number of
queries."""

from __future__ import annotations

import re
from datetime import UTC, datetime
from zoneinfo import ZoneInfo

from tessera.admin_ui.pages.dashboard import figures
from tessera.assets import service as assets
from tessera.assets.models import LedgerEntry
from tessera.behaviour.models import BehaviourEvent
from tessera.members.models import Member
from tessera.orders.models import Order
from tessera.scope import BrandScope

NEW_YORK = ZoneInfo("America/New_York")  # brand_b's time zone
NOW = datetime(2026, 3, 20, 12, 0, tzinfo=NEW_YORK)


def local(*parts: int) -> datetime:
    """A time of the brand's day, stored in UTC as the services store times."""
    return datetime(*parts, tzinfo=NEW_YORK).astimezone(UTC)


async def _order(scope: BrandScope, member: int, at: datetime, paid: int, refunded: int = 0):
    await scope.create(
        Order,
        member_id=member,
        external_id=f"o-{at.isoformat()}",
        occurred_at=at,
        amount_paid=paid,
        retail_amount=paid,
        discount=0,
        units=1,
        refunded_amount=refunded,
        fingerprint="-",
    )


async def _brand_with_history(scope: BrandScope, new_member) -> None:
    """Four members: two new this week (one of them joined late in the
    evening, which is already the next day in UTC), one joined 8 days ago,
    one long ago; orders either side of the month's first midnight."""
    joined = [
        local(2026, 3, 20, 0, 30),
        local(2026, 3, 14, 23, 30),
        local(2026, 3, 12, 9),
        local(2026, 1, 1, 9),
    ]
    ids = []
    for i, at in enumerate(joined):
        member = await new_member(scope.brand, name=f"M{i}", phone=f"+1202555010{i}")
        await scope.query(Member).filter(id=member.pk).update(joined_at=at)
        ids.append(member.pk)
    await _order(scope, ids[0], local(2026, 3, 1, 0, 10), 10000, refunded=2000)
    await _order(scope, ids[0], local(2026, 3, 19, 18), 5000)
    await _order(scope, ids[3], local(2026, 2, 28, 23, 50), 7000)  # 1 March in UTC
    await _order(scope, ids[2], local(2026, 2, 10, 12), 1000)  # before the 30 days
    await scope.create(
        BehaviourEvent,
        member_id=ids[1],
        event_id="e1",
        type="check_in",
        occurred_at=local(2026, 3, 10, 8),
        fingerprint="-",
    )
    await assets.earn_points(scope, ids[0], 300, idempotency_key="p", reason="", source_type="test")
    await scope.query(LedgerEntry).update(created_at=local(2026, 3, 18, 12))


async def test_figures_count_days_of_the_brands_time_zone(brand_b, new_member):
    scope = BrandScope(brand_b)
    await _brand_with_history(scope, new_member)
    found = await figures(scope, NOW.astimezone(UTC))
    assert found.members == 4
    assert found.new_this_week == 2
    assert found.active == 3  # orders of members 0 and 3, member 1's event
    assert found.points_liability == 300
    assert found.orders_this_month == 2
    assert found.sales_this_month == 10000 - 2000 + 5000

    joined = found.charts["new"].series["Joined"]
    assert len(joined) == 30 and sum(joined) == 3
    assert joined[-9:] == [1, 0, 1, 0, 0, 0, 0, 0, 1]
    members_at = found.charts["members"].series["Members"]
    assert members_at[-1] == 4 and members_at[-7] == 3 and members_at[-10] == 1
    points_at = found.charts["points"].series["Points liability"]
    assert points_at[-1] == points_at[-3] == 300 and points_at[-4] == 0
    orders = found.charts["orders"].series
    assert orders["This month"] == [1] * 18 + [2, 2]  # 1 to 20 March
    assert len(orders["Last month"]) == 28 and orders["Last month"][9] == 1
    assert orders["Last month"][-1] == 2
    assert found.charts["sales"].series["This month"][-1] == 13000
    assert found.charts["sales"].series["Last month"][-1] == 8000
    assert found.charts["active"].series["Active"] == [3, 4]


async def test_the_figures_take_six_queries_whatever_the_data(
    brand_b, new_member, assert_round_trips
):
    scope = BrandScope(brand_b)
    async with assert_round_trips(6):
        empty = await figures(scope, NOW.astimezone(UTC))
    assert empty.members == 0 and empty.charts["members"].series["Members"] == [0] * 30
    await _brand_with_history(scope, new_member)
    async with assert_round_trips(6):
        assert (await figures(scope, NOW.astimezone(UTC))).members == 4


async def test_the_page_draws_each_chart_with_a_text_alternative(admin_client, brand_a, new_member):
    await new_member(brand_a, name="Lin", phone="13800138000")
    client = await admin_client(brand_a, "viewer")
    page = (await client.get("/admin/brands/brand-a/")).text
    charts = re.findall(r'<svg class="spark"[^>]*role="img" aria-labelledby="([^"]+)"', page)
    assert len(charts) == 6
    for label in charts:
        assert f'<title id="{label}">' in page
    assert page.count('<details class="chart-data">') == 6
    assert "<caption>Members joined per day, last 30 days</caption>" in page
    assert re.search(r"<dt>Active \(30 days\)</dt><dd>0</dd>", page)
