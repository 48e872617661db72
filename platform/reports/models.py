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


class SalesDay(BrandOwned):
    """The brand's orders of one local day summed per (member, store,
    channel): the sales report's rollup (docs/reports.md, "Daily rollups").
    Rebuilt whole, one day at a time, from the orders; a day marked in
    :class:`DirtyDay` is read from the orders instead until rebuilt."""

    id = fields.BigIntField(primary_key=True)
    day = fields.DateField(description="the brand's local calendar day")
    starts_at = fields.DatetimeField(description="the day's local midnight (UTC instant)")
    member_id = fields.BigIntField()
    store_code = fields.CharField(max_length=64, default="")
    channel = fields.CharField(max_length=32, default="")
    orders = fields.IntField()
    sales = fields.BigIntField(description="Σ amount paid − refunded, minor units")
    units = fields.BigIntField(description="Σ units − refunded units")
    paid = fields.BigIntField()
    retail = fields.BigIntField()
    repeat_orders = fields.IntField(
        default=0, description="orders placed after another order of the member"
    )
    gap_ms = fields.BigIntField(
        default=0, description="Σ milliseconds from each of those to the member's previous order"
    )

    class Meta:
        table = "report_sales_day"
        # The member's earlier days: the buyer and cohort rollups' lookups.
        indexes = (("brand_id", "day"), ("brand_id", "member_id", "day"))


class DirtyDay(BrandOwned):
    """A local day whose orders changed (recorded, refunded) since its
    rollup rows were built; ``version`` grows with every change so a rebuild
    that raced a new order leaves the mark in place."""

    id = fields.BigIntField(primary_key=True)
    day = fields.DateField()
    starts_at = fields.DatetimeField()
    ends_at = fields.DatetimeField()
    version = fields.IntField(default=0)

    class Meta:
        table = "report_dirty_day"
        unique_together = (("brand_id", "day"),)


class RollupState(BrandOwned):
    """The brand's rollup was built in full for ``timezone``: reports read
    it only then (a brand whose timezone changed reads its orders until
    ``tessera reports rollup`` runs again)."""

    id = fields.IntField(primary_key=True)
    timezone = fields.CharField(max_length=64)
    built_at = fields.DatetimeField()

    class Meta:
        table = "report_rollup"
        unique_together = (("brand_id",),)


class SalesCube(BrandOwned):
    """The brand's orders of one local day summed per (store, channel,
    card held): the additive part of the sales report without the member,
    a few hundred rows a day whatever the number of members
    (docs/reports.md, "Daily rollups"). Rebuilt with the day."""

    id = fields.BigIntField(primary_key=True)
    day = fields.DateField(description="the brand's local calendar day")
    starts_at = fields.DatetimeField(description="the day's local midnight (UTC instant)")
    store_code = fields.CharField(max_length=64, default="")
    channel = fields.CharField(max_length=32, default="")
    carded = fields.SmallIntField(description="1 when the buyer holds a card (a member) now")
    orders = fields.BigIntField()
    sales = fields.BigIntField(description="Σ amount paid − refunded, minor units")
    units = fields.BigIntField(description="Σ units − refunded units")
    paid = fields.BigIntField()
    retail = fields.BigIntField()
    repeat_orders = fields.BigIntField(default=0)
    gap_ms = fields.BigIntField(default=0)

    class Meta:
        table = "report_sales_cube"
        indexes = (("brand_id", "day"),)


class BuyerDay(BrandOwned):
    """The members who bought on one local day, counted by the day of
    their previous purchase (none for a first purchase). A member buys in
    ``[a, b]`` for the first time on the one day whose previous purchase is
    before ``a``, so the distinct buyers of any range of days add up from
    these rows: Σ buyers over days in ``[a, b]`` with ``prev_day < a`` or
    none (docs/reports.md, "Daily rollups"). Rebuilt with the day."""

    id = fields.BigIntField(primary_key=True)
    day = fields.DateField()
    prev_day = fields.DateField(null=True, description="the member's previous purchase day")
    buyers = fields.BigIntField()

    class Meta:
        table = "report_buyer_day"
        indexes = (("brand_id", "day"),)


class CohortDay(BrandOwned):
    """The members whose first purchase in the day's calendar month is on
    that day, counted by the day of their first purchase ever: the
    retention cohorts of any period add up from these rows over a month's
    days (a cohort is the members whose first purchase day falls in one
    month of the period)."""

    id = fields.BigIntField(primary_key=True)
    day = fields.DateField()
    first_day = fields.DateField(description="the day of the member's first purchase")
    buyers = fields.BigIntField()

    class Meta:
        table = "report_cohort_day"
        indexes = (("brand_id", "day"),)


class JoinDay(BrandOwned):
    """The members who joined on one local day, counted by join channel,
    join source and the local day of their first order ever (none without
    one): the member growth report's rollup. New members of ``[a, b]`` add
    up over days in it, those converted by ``b`` are the ones whose first
    order day is ``<= b``, the running total sums every day ``<= b``
    (docs/reports.md, "Daily rollups"). Every member row counts, as in the
    member table (prospects, merge tombstones, erased members). Rebuilt
    with the day; a member's first order moving marks their join day."""

    id = fields.BigIntField(primary_key=True)
    day = fields.DateField(description="the local day of the members' joined_at")
    channel = fields.CharField(max_length=32, description="join_channel")
    source = fields.CharField(max_length=100, description="join_source")
    first_order_day = fields.DateField(
        null=True, description="the local day of the member's first order ever"
    )
    members = fields.BigIntField()

    class Meta:
        table = "report_join_day"
        indexes = (("brand_id", "day"),)


class BuyerCount(BrandOwned):
    """Distinct buyers of one whole period (a local day, Monday week,
    calendar month or year), counted for every combination of the store,
    channel and card filters: ``dims`` says which of them the row groups
    by (1 store, 2 channel, 4 card); the others hold '' or 0. Distinct
    counts do not add up across periods, so a report uses a row only for a
    period that is exactly one of these; a period's rows are complete when
    its ``dims`` 0 row exists (docs/reports.md, "Daily rollups")."""

    id = fields.BigIntField(primary_key=True)
    kind = fields.CharField(max_length=8, description="day, week, month or year")
    first_day = fields.DateField(description="the period's first local day")
    last_day = fields.DateField(description="the period's last local day")
    dims = fields.SmallIntField(description="grouped by: 1 store, 2 channel, 4 card held")
    store_code = fields.CharField(max_length=64, default="")
    channel = fields.CharField(max_length=32, default="")
    carded = fields.SmallIntField(default=0)
    buyers = fields.BigIntField()

    class Meta:
        table = "report_buyer_count"
        indexes = (("brand_id", "kind", "first_day"), ("brand_id", "last_day"))


class FlowPeriod(BrandOwned):
    """The lifecycle report's stage flows of one closed calendar month or
    year, stored by the ``stage_flows_tick`` job (its rows:
    :class:`StageFlow`); read while the brand's days up to ``last_day`` keep
    the Σ of versions ``signature``, and the timezone and lifecycle
    settings are those it was computed with (tessera.reports.flows,
    docs/reports.md "Stored stage flows")."""

    id = fields.BigIntField(primary_key=True)
    first_day = fields.DateField(description="the period's first local day")
    last_day = fields.DateField(description="the period's last local day")
    timezone = fields.CharField(max_length=64, description="the brand's, naming the days")
    settings = fields.CharField(
        max_length=200, description="the lifecycle settings the stages read (fingerprint)"
    )
    signature = fields.BigIntField(description="Σ versions of the days up to last_day")
    computed_at = fields.DatetimeField()

    class Meta:
        table = "report_flow_period"
        unique_together = (("brand_id", "first_day", "last_day"),)


class StageFlow(BrandOwned):
    """Members counted by (stage at the period's start, stage at its end)
    in a stored :class:`FlowPeriod`."""

    id = fields.BigIntField(primary_key=True)
    period: fields.ForeignKeyRelation[FlowPeriod] = fields.ForeignKeyField(
        "tessera.FlowPeriod", related_name=False, on_delete=fields.CASCADE
    )
    period_id: int
    s_from = fields.CharField(max_length=32)
    s_to = fields.CharField(max_length=32)
    members = fields.BigIntField()

    class Meta:
        table = "report_stage_flow"
        indexes = (("brand_id", "period_id"),)


class BuyerDimDay(BrandOwned):
    """The members who bought at one store (``dim`` 1) or in one channel
    (``dim`` 2) on one local day, counted by the first day of the month of
    their previous purchase there (none for a first purchase there). The
    distinct buyers at a store or in a channel of a range starting on a
    month's first day ``a`` add up from these rows: Σ buyers over days in
    ``[a, b]`` with ``prev_month < a`` or none (docs/reports.md, "Daily
    rollups"). A previous month before ``clip_month`` of the day is stored
    as that month, so a day has at most a few dozen rows per key. Rebuilt
    with the day."""

    id = fields.BigIntField(primary_key=True)
    day = fields.DateField()
    dim = fields.SmallIntField(description="1 store, 2 channel")
    dim_key = fields.CharField(max_length=64, description="the store code or channel, '' if none")
    prev_month = fields.DateField(
        null=True,
        description="first day of the month of the member's previous purchase there, "
        "at the earliest clip_month of the day",
    )
    buyers = fields.BigIntField()

    class Meta:
        table = "report_buyer_dim_day"
        indexes = (("brand_id", "day"),)
