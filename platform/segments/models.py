"""Segments and their materialised membership, members' RFM scores and
lifecycle stage, and the brand's settings for them."""

from __future__ import annotations

from tortoise import fields

from tessera.models_base import BrandOwned


class Segment(BrandOwned):
    """A named group of members. ``dynamic``: ``rule`` is re-evaluated on
    refresh, on a schedule (rules with relative time) and incrementally for
    members whose facts change. ``static``: a frozen list (a snapshot of
    ``rule``, or uploaded identities) that only an operator changes."""

    id = fields.IntField(primary_key=True)
    name = fields.CharField(max_length=200)
    description = fields.TextField(default="")
    kind = fields.CharField(max_length=16, description="dynamic or static")
    rule = fields.JSONField(null=True, description="the rule, for a static list, null")
    depends_on = fields.JSONField(default=list, description="ids of segments the rule reads")
    relative_time = fields.BooleanField(
        default=False, description="the rule reads the clock: refreshed on a schedule"
    )
    size = fields.IntField(default=0, description="members in the stored membership")
    refreshed_at = fields.DatetimeField(null=True)
    created_at = fields.DatetimeField(auto_now_add=True)
    updated_at = fields.DatetimeField(auto_now=True)

    class Meta:
        table = "segment"
        unique_together = (("brand_id", "name"),)


class SegmentMembership(BrandOwned):
    """A member in a segment, as of the last refresh (or incremental update)."""

    id = fields.BigIntField(primary_key=True)
    segment: fields.ForeignKeyRelation[Segment] = fields.ForeignKeyField(
        "tessera.Segment", related_name=False, on_delete=fields.CASCADE, index=False
    )
    segment_id: int
    member: fields.ForeignKeyRelation = fields.ForeignKeyField(  # type: ignore[type-arg]
        "tessera.Member", related_name=False, on_delete=fields.CASCADE, index=False
    )
    member_id: int
    entered_at = fields.DatetimeField()

    class Meta:
        table = "segment_membership"
        unique_together = (("segment_id", "member_id"),)
        indexes = (("brand_id", "member_id"),)


class SegmentSizeHistory(BrandOwned):
    """The segment's size after each refresh that changed it (and the first)."""

    id = fields.BigIntField(primary_key=True)
    segment: fields.ForeignKeyRelation[Segment] = fields.ForeignKeyField(
        "tessera.Segment", related_name=False, on_delete=fields.CASCADE, index=False
    )
    segment_id: int
    recorded_at = fields.DatetimeField()
    size = fields.IntField()

    class Meta:
        table = "segment_size_history"
        indexes = (("segment_id", "recorded_at"),)


class SegmentRefresh(BrandOwned):
    """One materialisation of a segment: what it took and what it changed."""

    id = fields.BigIntField(primary_key=True)
    segment: fields.ForeignKeyRelation[Segment] = fields.ForeignKeyField(
        "tessera.Segment", related_name=False, on_delete=fields.CASCADE, index=False
    )
    segment_id: int
    trigger = fields.CharField(max_length=16, description="manual, schedule, job, import...")
    started_at = fields.DatetimeField()
    duration_ms = fields.IntField()
    size = fields.IntField()
    entered = fields.IntField()
    exited = fields.IntField()

    class Meta:
        table = "segment_refresh"
        indexes = (("segment_id", "started_at"),)


class MemberLifecycle(BrandOwned):
    """A member's RFM scores (1..5, null without an order in the RFM window)
    and lifecycle stage, as of ``computed_at``."""

    member: fields.OneToOneRelation = fields.OneToOneField(  # type: ignore[type-arg]
        "tessera.Member", related_name=False, on_delete=fields.CASCADE, primary_key=True
    )
    member_id: int
    recency_score = fields.SmallIntField(null=True)
    frequency_score = fields.SmallIntField(null=True)
    monetary_score = fields.SmallIntField(null=True)
    stage = fields.CharField(
        max_length=16, description="new, active, silent, sleeping, about_to_churn or churned"
    )
    computed_at = fields.DatetimeField()

    class Meta:
        table = "member_lifecycle"
        indexes = (("brand_id", "stage"),)


class LifecycleSettings(BrandOwned):
    """How a brand scores RFM and names lifecycle stages (see
    :mod:`tessera.segments.lifecycle` for the definitions)."""

    id = fields.IntField(primary_key=True)
    rfm_window_days = fields.IntField(default=365)
    score_method = fields.CharField(max_length=16, default="quintiles", description="or fixed")
    recency_cutoffs = fields.JSONField(default=list, description="4 day counts, ascending")
    frequency_cutoffs = fields.JSONField(default=list, description="4 order counts, ascending")
    monetary_cutoffs = fields.JSONField(default=list, description="4 amounts (minor units)")
    quintile_cutoffs = fields.JSONField(
        default=dict, description="computed nightly from the brand's orders, by score"
    )
    new_max_orders = fields.IntField(default=1)
    active_days = fields.IntField(default=90)
    silent_days = fields.IntField(default=180)
    sleeping_days = fields.IntField(default=270)
    about_to_churn_days = fields.IntField(default=365)
    updated_at = fields.DatetimeField(auto_now=True)

    class Meta:
        table = "lifecycle_settings"
        unique_together = (("brand_id",),)
