"""Member assets as the API shows them: balances, ledger entries, points
about to lapse, and the brand's points policy."""

from __future__ import annotations

from datetime import datetime
from enum import Enum

import strawberry

from tessera.assets.models import LedgerEntry as EntryModel
from tessera.assets.policy import ExpiryMode, NegativeBalance, PolicyValues
from tessera.assets.service import Balances
from tessera.idempotency import to_caller
from tessera.schema.ids import encode_id
from tessera.schema.orders.money import Money


@strawberry.enum(description="A member's kinds of asset account.")
class AssetKind(Enum):
    POINTS = "points"
    STORED_VALUE = "stored_value"
    GROWTH = "growth"


@strawberry.enum(description="What a ledger entry did.")
class LedgerEntryType(Enum):
    EARN = "earn"
    REDEEM = "redeem"
    EXPIRE = "expire"
    ADJUST = "adjust"
    REVERSE = "reverse"
    TOP_UP = "top_up"
    SPEND = "spend"
    PENDING = "pending"
    RELEASE = "release"
    CANCEL = "cancel"
    REFUND = "refund"
    MERGE = "merge"


strawberry.enum(
    ExpiryMode,
    name="PointsExpiryMode",
    description="NEVER: points do not lapse. ROLLING_MONTHS: usable for `expiryMonths` months "
    "from the day earned. CALENDAR_YEARS: usable to the end of the `expiryYears`-th calendar "
    "year, the year earned being the first. Points lapse at the end of their last day in the "
    "brand's timezone.",
)
strawberry.enum(
    NegativeBalance,
    name="NegativeBalancePolicy",
    description="What a reversal (a refund) does when the member has already spent the "
    "points: ALLOW_NEGATIVE takes them all, the balance goes below zero and future points "
    "pay the debt first; CAP_AT_ZERO takes what is there and writes the rest off.",
)


@strawberry.type(description="A member's balances.")
class MemberAssets:
    points: int = strawberry.field(
        description="The points balance (the sum of the ledger), including `reservedPoints`."
    )
    reserved_points: int = strawberry.field(
        description="Part of `points` reserved by open checkout holds (`holdRewards`): "
        "spent when an order confirms the hold, back when it is released or expires."
    )
    available_points: int = strawberry.field(
        description="Points that can be redeemed or held now: `points` - `reservedPoints`."
    )
    pending_points: int = strawberry.field(
        description="Points held for the brand's return window, available later."
    )
    stored_value: Money = strawberry.field(description="Prepaid balance (儲值).")
    growth: int = strawberry.field(description="Growth value (成長值), which drives tiers.")

    @classmethod
    def of(cls, balances: Balances, currency: str) -> MemberAssets:
        return cls(
            points=balances.points,
            reserved_points=balances.reserved_points,
            available_points=balances.available_points,
            pending_points=balances.pending_points,
            stored_value=Money.of(balances.stored_value, currency),
            growth=balances.growth,
        )


@strawberry.type(description="One movement of a member's points, stored value or growth.")
class LedgerEntry:
    id: strawberry.ID = strawberry.field(description="Opaque id.")
    kind: AssetKind = strawberry.field(description="Which account it moved.")
    entry_type: LedgerEntryType = strawberry.field(description="What it did.")
    amount: int = strawberry.field(
        description="Signed change: points or growth; minor units for stored value (see "
        "`money`). PENDING and CANCEL entries change `pendingPoints`, not the balance."
    )
    balance_after: int = strawberry.field(description="The account's balance after it.")
    money: Money | None = strawberry.field(
        description="For stored value: `amount` as money; null otherwise."
    )
    reason: str = strawberry.field(description="Why, as the caller or operator wrote it.")
    source_type: str = strawberry.field(description="What caused it: `order`, `api`, `admin`…")
    source_ref: str | None = strawberry.field(description="The source's id, e.g. an order's.")
    idempotency_key: str = strawberry.field(description="The key the write was made with.")
    actor: str = strawberry.field(description="Who made it, e.g. `api_key:12`, `system`.")
    occurred_at: datetime = strawberry.field(description="When it took effect.")

    @classmethod
    def from_model(cls, row: EntryModel, currency: str) -> LedgerEntry:
        return cls(
            id=strawberry.ID(encode_id("LedgerEntry", row.id)),
            kind=AssetKind(row.kind),
            entry_type=LedgerEntryType(row.entry_type),
            amount=row.amount,
            balance_after=row.balance_after,
            money=Money.of(row.amount, currency) if row.kind == "stored_value" else None,
            reason=row.reason,
            source_type=row.source_type,
            source_ref=row.source_ref,
            idempotency_key=to_caller(row.idempotency_key),
            actor=row.actor,
            occurred_at=row.occurred_at,
        )


@strawberry.type(description="Points that lapse together.")
class ExpiringLot:
    points: int = strawberry.field(description="Points left that will lapse.")
    expires_at: datetime = strawberry.field(description="When they lapse.")


@strawberry.type(description="A member's points lapsing within a number of days.")
class ExpiringPoints:
    total: int = strawberry.field(description="All points lapsing in the window.")
    lots: list[ExpiringLot] = strawberry.field(description="By expiry, soonest first.")


@strawberry.type(description="The brand's points policy.")
class PointsPolicy:
    expiry_mode: ExpiryMode = strawberry.field(description="How earned points lapse.")
    expiry_months: int = strawberry.field(description="Months for ROLLING_MONTHS (1-120).")
    expiry_years: int = strawberry.field(description="Calendar years for CALENDAR_YEARS (1-10).")
    pending_days: int = strawberry.field(
        description="Days purchase points are held before they can be redeemed (the return "
        "window, 0-365; 0: available at once). A refund inside the window cancels them."
    )
    negative_balance: NegativeBalance = strawberry.field(
        description="What a reversal does to a balance that cannot cover it."
    )
    expiring_soon_days: int = strawberry.field(
        description="How many days ahead members are warned of lapsing points (1-90)."
    )

    @classmethod
    def of(cls, values: PolicyValues) -> PointsPolicy:
        return cls(
            expiry_mode=values.expiry_mode,
            expiry_months=values.expiry_months,
            expiry_years=values.expiry_years,
            pending_days=values.pending_days,
            negative_balance=values.negative_balance,
            expiring_soon_days=values.expiring_soon_days,
        )
