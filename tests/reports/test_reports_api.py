"""reportTypes, report and setReportTarget over HTTP; a failing report
plugin leaves lastError and a REPORT_FAILED error, nothing else breaks."""

from __future__ import annotations

from reports_data import ALL_REPORTS, Buy, M, load, report_brand, utc

from tessera import ReportResult, ReportType, hookimpl

REPORT = """
query($type: String!, $params: JSON!) {
  report(type: $type, params: $params) {
    type currency cached
    figures { key unit value previous change target progress }
    series { key labels values previous }
    tables { key columns { key unit } rows }
    errors { field code message }
  }
}"""


async def test_report_types_and_a_report(tessera_db, gql, api_key):
    brand = await report_brand()
    await load(
        brand,
        [M(utc(2024, 1, 1)), M(utc(2024, 1, 1))],
        [
            Buy(0, utc(2024, 3, 3), 1000),
            Buy(0, utc(2025, 3, 3), 1234, units=2, retail=2000, store="S1"),
            Buy(1, utc(2025, 3, 4), 766, units=1),
        ],
    )
    token = await api_key(brand, "read")
    types = (await gql("{ reportTypes { key paramsSchema lastError } }", token=token))[
        "reportTypes"
    ]
    assert sorted(t["key"] for t in types) == sorted(ALL_REPORTS)
    sales = next(t for t in types if t["key"] == "reports.sales")
    assert {"start", "end", "comparison", "store", "segment"} <= set(
        sales["paramsSchema"]["properties"]
    )
    growth = next(t for t in types if t["key"] == "reports.member_growth")
    assert "store" not in growth["paramsSchema"]["properties"]

    params = {
        "start": "2025-03-01",
        "end": "2025-03-31",
        "comparison": "yoy",
        "granularity": "week",
    }
    data = (await gql(REPORT, {"type": "reports.sales", "params": params}, token=token))["report"]
    assert data["errors"] == [] and data["currency"] == "CNY"
    figures = {f["key"]: f for f in data["figures"]}
    assert figures["sales"] == {
        "key": "sales",
        "unit": "MONEY",
        "value": "20.00",
        "previous": "10.00",
        "change": "1.0000",
        "target": None,
        "progress": None,
    }
    assert figures["aspu"]["value"] == "6.6667"  # 20.00 / 3 units, two places past the fen
    assert figures["discount_depth"]["value"] == "0.2769"  # 1 - 2000 / (2000 + 766)
    weekly = next(s for s in data["series"] if s["key"] == "sales")
    assert weekly["labels"][:2] == ["2025-03-01", "2025-03-03"]  # clipped to the period, Mondays
    assert weekly["values"][1] == "20.00"

    manage = await api_key(brand, "manage")
    set_target = """mutation($input: SetReportTargetInput!) {
      setReportTarget(input: $input) { value errors { field code } } }"""
    answer = await gql(
        set_target,
        {
            "input": {
                "type": "reports.sales",
                "figure": "sales",
                "start": "2025-03-01",
                "end": "2025-03-31",
                "value": "40",
            }
        },
        token=manage,
    )
    assert answer["setReportTarget"]["errors"] == []
    data = (await gql(REPORT, {"type": "reports.sales", "params": params}, token=token))["report"]
    sales_fig = next(f for f in data["figures"] if f["key"] == "sales")
    assert (sales_fig["target"], sales_fig["progress"]) == ("40.00", "0.5000")


async def test_bad_params_are_user_errors(tessera_db, gql, api_key):
    brand = await report_brand()
    token = await api_key(brand, "read")
    data = (
        await gql(
            REPORT,
            {
                "type": "reports.sales",
                "params": {"start": "2020-01-01", "end": "2025-01-01", "colour": "red"},
            },
            token=token,
        )
    )["report"]
    assert sorted((tuple(e["field"]), e["code"]) for e in data["errors"]) == [
        (("params", "colour"), "INVALID"),
        (("params", "end"), "OUT_OF_RANGE"),
    ]
    assert data["figures"] == []


class Broken(ReportType):
    key = "test_broken_report"
    title = "Broken"

    async def run(self, context, params) -> ReportResult:
        raise RuntimeError("division by zero in partner code")


class BrokenPlugin:
    @hookimpl
    def tessera_register_report_types(self):
        return [Broken]


async def test_a_failing_report_plugin_shows_last_error(
    tessera_db, gql, api_key, register_plugin, enable_feature
):
    register_plugin(BrokenPlugin(), "broken_reports")
    brand = await report_brand()
    await enable_feature(brand, "test_broken_report")
    token = await api_key(brand, "read")
    data = (
        await gql(
            REPORT,
            {"type": "test_broken_report", "params": {"start": "2025-03-01", "end": "2025-03-02"}},
            token=token,
        )
    )["report"]
    assert [(e["field"], e["code"]) for e in data["errors"]] == [(["type"], "REPORT_FAILED")]
    types = (await gql("{ reportTypes { key lastError } }", token=token))["reportTypes"]
    broken = next(t for t in types if t["key"] == "test_broken_report")
    assert "division by zero" in broken["lastError"]
    # The other reports still answer.
    ok = (
        await gql(
            REPORT,
            {"type": "reports.sales", "params": {"start": "2025-03-01", "end": "2025-03-02"}},
            token=token,
        )
    )["report"]
    assert ok["errors"] == []
