"""KPI targets of report figures (docs/reports.md)."""

from __future__ import annotations

from tortoise import fields

from tessera.models_base import BrandOwned


class ReportTarget(BrandOwned):
    """A target for one figure of one report type over one period (local
    days, both included). A report run over exactly that period shows it,
    with the share reached."""

    id = fields.IntField(primary_key=True)
    report_type = fields.CharField(max_length=100)
    figure = fields.CharField(max_length=64)
    start = fields.DateField()
    end = fields.DateField()
    value = fields.CharField(
        max_length=40,
        description="exact decimal in the figure's unit: money in currency units, ratios as 0.25",
    )
    created_at = fields.DatetimeField(auto_now_add=True)
    updated_at = fields.DatetimeField(auto_now=True)

    class Meta:
        table = "report_target"
        unique_together = (("brand_id", "report_type", "figure", "start", "end"),)
