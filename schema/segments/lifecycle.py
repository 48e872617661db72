"""RFM scores and lifecycle stage on ``Member``, and the brand's settings."""

from __future__ import annotations

from datetime import date, datetime
from typing import Any

import strawberry
from strawberry.types import Info

from tessera.schema.errors import UserError
from tessera.schema.permissions import CanManage, CanRead
from tessera.schema.segments.dataloaders import LifecycleByMemberIdLoader
from tessera.segments import lifecycle
from tessera.segments.lifecycle import ScoreMethod, Stage
from tessera.segments.models import LifecycleSettings as SettingsModel

LifecycleStage = strawberry.enum(
    Stage,
    name="LifecycleStage",
    description="Where a member is in their life with the brand, by days since their last "
    "order (since joining if they never ordered), as the brand defines it "
    "(`lifecycleSettings`): NEW (recent, few orders), ACTIVE, SILENT, SLEEPING, "
    "ABOUT_TO_CHURN, CHURNED.",
)
RfmScoreMethod = strawberry.enum(
    ScoreMethod,
    name="RfmScoreMethod",
    description="QUINTILES: cut-offs from the brand's own members, recomputed nightly; "
    "FIXED: the brand's own thresholds.",
)


@strawberry.type(description="A member's RFM scores, 1 (lowest) to 5 (highest).")
class Rfm:
    recency: int = strawberry.field(description="How recently they last ordered.")
    frequency: int = strawberry.field(description="How many orders in the RFM window.")
    monetary: int = strawberry.field(description="How much they spent in the RFM window.")
    computed_at: datetime = strawberry.field(description="When the scores were computed.")


async def member_stage(info: Info, member_pk: int) -> Stage | None:
    row = await LifecycleByMemberIdLoader.of(info).load(member_pk)
    return Stage(row.stage) if row else None


async def member_rfm(info: Info, member_pk: int) -> Rfm | None:
    row = await LifecycleByMemberIdLoader.of(info).load(member_pk)
    if row is None or row.recency_score is None:
        return None
    return Rfm(
        recency=row.recency_score,
        frequency=row.frequency_score or 1,
        monetary=row.monetary_score or 1,
        computed_at=row.computed_at,
    )


@strawberry.type(
    description="How the brand scores RFM and names lifecycle stages. Stages read the "
    "brand-local days since a member's last order (since joining without one): within "
    "`activeDays` NEW (at most `newMaxOrders` orders) or ACTIVE, then SILENT within "
    "`silentDays`, SLEEPING within `sleepingDays`, ABOUT_TO_CHURN within "
    "`aboutToChurnDays`, else CHURNED. Scores and stages are recomputed after each order "
    "or refund and nightly."
)
class LifecycleSettings:
    rfm_window_days: int = strawberry.field(
        description="RFM reads the orders of this many last days; without one, no scores."
    )
    score_method: RfmScoreMethod = strawberry.field(  # type: ignore[valid-type]
        description="Quintiles of the brand's data, or fixed thresholds."
    )
    recency_cutoffs: list[int] = strawberry.field(
        description="Fixed thresholds (days): within the 1st scores 5, the 2nd 4, ... beyond "
        "the 4th 1."
    )
    frequency_cutoffs: list[int] = strawberry.field(
        description="Fixed thresholds (orders): a score is 1 plus the thresholds exceeded."
    )
    monetary_cutoffs: list[int] = strawberry.field(
        description="Fixed thresholds (minor units): a score is 1 plus the thresholds exceeded."
    )
    quintile_cutoffs: list[list[int | None]] = strawberry.field(
        description="The last computed quintile cut-offs: recency, frequency, monetary "
        "(null where too few members have scores)."
    )
    new_max_orders: int = strawberry.field(description="NEW members have at most this many.")
    active_days: int = strawberry.field(description="Days to stay NEW or ACTIVE.")
    silent_days: int = strawberry.field(description="Days until SLEEPING.")
    sleeping_days: int = strawberry.field(description="Days until ABOUT_TO_CHURN.")
    about_to_churn_days: int = strawberry.field(description="Days until CHURNED.")

    @classmethod
    def from_model(cls, s: SettingsModel) -> LifecycleSettings:
        computed = s.quintile_cutoffs or {}
        return cls(
            rfm_window_days=s.rfm_window_days,
            score_method=ScoreMethod(s.score_method),
            recency_cutoffs=list(s.recency_cutoffs),
            frequency_cutoffs=list(s.frequency_cutoffs),
            monetary_cutoffs=list(s.monetary_cutoffs),
            quintile_cutoffs=[list(computed.get(m) or []) for m in lifecycle.MEASURES],
            new_max_orders=s.new_max_orders,
            active_days=s.active_days,
            silent_days=s.silent_days,
            sleeping_days=s.sleeping_days,
            about_to_churn_days=s.about_to_churn_days,
        )


@strawberry.input(description="Changes to the lifecycle settings; omitted fields stay.")
class UpdateLifecycleSettingsInput:
    rfm_window_days: int | None = strawberry.field(default=None, description="1-3650 days.")
    score_method: RfmScoreMethod | None = strawberry.field(  # type: ignore[valid-type]
        default=None, description="QUINTILES or FIXED (then give the three cut-off lists)."
    )
    recency_cutoffs: list[int] | None = strawberry.field(
        default=None, description="4 day counts, ascending."
    )
    frequency_cutoffs: list[int] | None = strawberry.field(
        default=None, description="4 order counts, ascending."
    )
    monetary_cutoffs: list[int] | None = strawberry.field(
        default=None, description="4 amounts in minor units, ascending."
    )
    new_max_orders: int | None = strawberry.field(default=None, description="0 or more.")
    active_days: int | None = strawberry.field(default=None, description="Days.")
    silent_days: int | None = strawberry.field(default=None, description="More than activeDays.")
    sleeping_days: int | None = strawberry.field(default=None, description="More than silentDays.")
    about_to_churn_days: int | None = strawberry.field(
        default=None, description="More than sleepingDays."
    )


@strawberry.type(description="Result of changing the lifecycle settings.")
class LifecycleSettingsPayload:
    settings: LifecycleSettings | None = strawberry.field(
        default=None, description="As now stored."
    )
    errors: list[UserError] = strawberry.field(description="Why nothing was changed.")


@strawberry.input(description="Recompute every member's RFM scores and lifecycle stage.")
class RecomputeLifecycleInput:
    as_of: date | None = strawberry.field(
        default=None,
        description="Score the brand's history as it stood at the end of this day (the "
        "brand's calendar), ignoring later orders: for history imported from an old "
        "system. Omitted: today. The nightly run and each new order score the present "
        "again.",
    )


@strawberry.type(description="Result of recomputing the lifecycle.")
class RecomputeLifecyclePayload:
    as_of: datetime | None = strawberry.field(
        default=None,
        description="The instant the stored scores and stages describe (their `computedAt`).",
    )
    errors: list[UserError] = strawberry.field(description="Why nothing was recomputed.")


@strawberry.type
class LifecycleQuery:
    @strawberry.field(
        description="How the brand scores RFM and names lifecycle stages.",
        permission_classes=[CanRead],
    )
    async def lifecycle_settings(self, info: Info) -> LifecycleSettings:
        return LifecycleSettings.from_model(await lifecycle.settings_of(info.context.scope))


@strawberry.type
class LifecycleMutation:
    @strawberry.mutation(
        description="Change how RFM is scored and stages are named; members follow at the "
        "nightly run (or their next order). Needs the manage scope.",
        permission_classes=[CanManage],
    )
    async def update_lifecycle_settings(
        self, info: Info, input: UpdateLifecycleSettingsInput
    ) -> LifecycleSettingsPayload:
        changes: dict[str, Any] = {
            name: getattr(input, name)
            for name in (
                "rfm_window_days",
                "score_method",
                "recency_cutoffs",
                "frequency_cutoffs",
                "monetary_cutoffs",
                "new_max_orders",
                "active_days",
                "silent_days",
                "sleeping_days",
                "about_to_churn_days",
            )
            if getattr(input, name) is not None
        }
        if "score_method" in changes:
            changes["score_method"] = ScoreMethod(changes["score_method"]).value
        stored = await lifecycle.update_settings(info.context.scope, changes)
        return LifecycleSettingsPayload(settings=LifecycleSettings.from_model(stored), errors=[])

    @strawberry.mutation(
        description="Recompute every member's RFM scores and lifecycle stage now, or as of "
        "a past day (`asOf`) for imported history. Needs the manage scope.",
        permission_classes=[CanManage],
    )
    async def recompute_lifecycle(
        self, info: Info, input: RecomputeLifecycleInput
    ) -> RecomputeLifecyclePayload:
        at = await lifecycle.recompute_brand(info.context.scope, as_of=input.as_of)
        return RecomputeLifecyclePayload(as_of=at, errors=[])
