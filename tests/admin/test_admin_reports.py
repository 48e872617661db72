"""The reports pages: the list, a report with its figures, chart data and
tables, field errors, CSV and XLSX exports, a failing report plugin."""

from __future__ import annotations

import csv
import html
import io
import json
import re
from datetime import UTC, datetime

from openpyxl import load_workbook

from tessera import ReportResult, ReportType, hookimpl
from tessera.members.models import Member
from tessera.orders.models import Order
from tessera.scope import BrandScope

BASE = "/admin/brands/brand-a"


async def _history(brand, enable_feature) -> None:
    for key in ("reports.sales", "reports.member_growth", "reports.retention"):
        await enable_feature(brand, key)
    scope = BrandScope(brand)
    joined = datetime(2024, 1, 1, tzinfo=UTC)
    await scope.insert_many(
        Member,
        [
            scope.build(
                Member, external_id="m1", card_number="C1", joined_at=joined, join_channel="app"
            )
        ],
    )
    member = await scope.query(Member).get(external_id="m1")
    await scope.insert_many(
        Order,
        [
            scope.build(
                Order,
                member_id=member.id,
                external_id=f"o{i}",
                store_code=store,
                occurred_at=datetime(2025, 3, 2 + i, 4, tzinfo=UTC),
                amount_paid=paid,
                retail_amount=paid,
                discount=0,
                units=1,
                fingerprint="t",
            )
            for i, (store, paid) in enumerate([("S1", 1000), ("S2", 2550), ("S1", 450)])
        ],
    )


async def test_the_report_page_shows_figures_charts_and_tables(
    admin_client, brand_a, enable_feature
):
    await _history(brand_a, enable_feature)
    client = await admin_client(brand_a, "viewer")
    listing = await client.get(f"{BASE}/reports")
    assert listing.status_code == 200 and "/reports/reports.sales" in listing.text
    page = await client.get(
        f"{BASE}/reports/reports.sales?start=2025-03-01&end=2025-03-31&comparison=mom"
    )
    assert page.status_code == 200
    assert "echarts.min.js" in page.text and "reports.js" in page.text
    assert "40.00 CNY" in page.text  # sales
    charts = re.findall(r"data-chart='(.*?)'", page.text)
    sales_chart = json.loads(html.unescape(charts[0]))
    assert sales_chart["values"][1:4] == [10.0, 25.5, 4.5] and len(sales_chart["labels"]) == 31
    assert "table-by_store" in page.text

    export = f"{BASE}/reports/reports.sales?export=by_store&start=2025-03-01&end=2025-03-31"
    as_csv = await client.get(export + "&format=csv")
    assert as_csv.status_code == 200
    rows = list(csv.reader(io.StringIO(as_csv.content.decode("utf-8-sig"))))
    assert rows[0][:2] == ["Store", "Sales"]
    assert rows[1:] == [["S1", "14.50", "2", "1", "0.3625"], ["S2", "25.50", "1", "1", "0.6375"]]
    as_xlsx = await client.get(export + "&format=xlsx")
    sheet = load_workbook(io.BytesIO(as_xlsx.content)).active
    assert [c.value for c in sheet[2]] == ["S1", 14.5, 2, 1, 0.3625]


async def test_bad_parameters_show_under_the_form(admin_client, brand_a, enable_feature):
    await _history(brand_a, enable_feature)
    client = await admin_client(brand_a, "viewer")
    page = await client.get(f"{BASE}/reports/reports.sales?start=2020-01-01&end=2025-03-31")
    assert page.status_code == 200
    assert 'id="end-error"' in page.text and "at most 731" in page.text
    missing = await client.get(f"{BASE}/reports/reports.nope")
    assert missing.status_code == 404


class Failing(ReportType):
    key = "test_failing_page_report"
    title = "Failing"

    async def run(self, context, params) -> ReportResult:
        raise ValueError("partner bug")


class FailingPlugin:
    @hookimpl
    def tessera_register_report_types(self):
        return [Failing]


async def test_a_failing_report_does_not_break_the_pages(
    admin_client, brand_a, enable_feature, register_plugin
):
    register_plugin(FailingPlugin(), "failing_page_reports")
    await _history(brand_a, enable_feature)
    await enable_feature(brand_a, "test_failing_page_report")
    client = await admin_client(brand_a, "viewer")
    page = await client.get(f"{BASE}/reports/test_failing_page_report")
    assert page.status_code == 200 and "partner bug" in page.text
    listing = await client.get(f"{BASE}/reports")
    assert listing.status_code == 200 and "partner bug" in listing.text
    other = await client.get(f"{BASE}/reports/reports.sales")
    assert other.status_code == 200


async def test_a_manager_sets_a_target_and_the_page_shows_its_progress(
    admin_client, brand_a, enable_feature
):
    await _history(brand_a, enable_feature)
    viewer = await admin_client(brand_a, "viewer")
    shown = await viewer.get(f"{BASE}/reports/reports.sales?start=2025-03-01&end=2025-03-31")
    assert 'id="targets"' not in shown.text
    manager = await admin_client(brand_a, "owner")
    query = "start=2025-03-01&end=2025-03-31&comparison=yoy"
    page = await manager.get(f"{BASE}/reports/reports.sales?{query}")
    assert 'id="targets"' in page.text
    answer = await manager.post(
        f"{BASE}/reports/reports.sales/target",
        {
            "figure": "sales",
            "value": "80",
            "start": "2025-03-01",
            "end": "2025-03-31",
            "back": query,
        },
    )
    assert answer.status_code == 303 and answer.headers["location"].endswith(query)
    page = await manager.get(answer.headers["location"])
    assert "Target saved." in page.text and "80.00 CNY · 50.00%" in page.text
    bad = await manager.post(
        f"{BASE}/reports/reports.sales/target",
        {"figure": "sales", "value": "lots", "start": "2025-03-01", "end": "2025-03-31"},
    )
    page = await manager.get(bad.headers["location"])
    assert "not a decimal number" in page.text
    refused = await viewer.post(
        f"{BASE}/reports/reports.sales/target",
        {"figure": "sales", "value": "1", "start": "2025-03-01", "end": "2025-03-31"},
    )
    assert refused.status_code == 403
