"""A small campaign built straight on the tables (the campaign, its frozen
recipients and their messages as the sending jobs leave them), with orders
and refunds recorded through the order services, for the attribution tests."""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from datetime import UTC, datetime
from decimal import Decimal

from tessera.campaigns.models import Campaign, CampaignRecipient, CampaignStatus
from tessera.channels import service as channels
from tessera.channels.models import Channel, Message, MessageStatus, MessageTemplate, Purpose
from tessera.members.models import Member
from tessera.orders.inputs import MemberRef, OrderInput, RefundInput
from tessera.orders.money import MoneyAmount
from tessera.orders.refunds import record_refund
from tessera.pipeline.orders import record_order
from tessera.reports.service import clear_cache
from tessera.scope import BrandScope
from tessera.tenancy.models import Brand

LATER = datetime(2026, 1, 1, tzinfo=UTC)


def utc(*parts: int) -> datetime:
    return datetime(*parts, tzinfo=UTC)  # type: ignore[misc]


@dataclass(frozen=True)
class R:
    """A recipient: ``sent_at`` None with ``holdout`` False is unreached."""

    name: str
    holdout: bool = False
    batch: int = 0
    sent_at: datetime | None = None


@dataclass(frozen=True)
class Buy:
    member: str
    at: datetime
    paid: str
    refunded: str | None = None


async def members(brand: Brand, names: Sequence[str]) -> dict[str, int]:
    scope = BrandScope(brand)
    rows = [
        scope.build(Member, external_id=n, card_number=f"C-{n}", joined_at=utc(2024, 1, 1))
        for n in names
    ]
    await scope.insert_many(Member, rows)
    found = await scope.query(Member).filter(external_id__in=list(names))
    return {m.external_id or "": m.id for m in found}


async def campaign(
    brand: Brand,
    name: str,
    launched_at: datetime | None,
    recipients: Sequence[R],
    *,
    ids: dict[str, int],
    days: int = 7,
    cost: str = "0.05",
) -> Campaign:
    scope = BrandScope(brand)
    template = await scope.query(MessageTemplate).get_or_none(name="push")
    if template is None:
        template = await channels.create_template(
            scope, name="push", channel=Channel.SMS, body="Hello"
        )
    stored = await scope.create(
        Campaign,
        name=name,
        template_id=template.id,
        channel=Channel.SMS,
        holdout_share=Decimal("0.3"),
        attribution_days=days,
        cost_per_message=Decimal(cost),
        status=CampaignStatus.COMPLETED if launched_at else CampaignStatus.DRAFT,
        launched_at=launched_at,
    )
    for r in recipients:
        message_id = None
        if not r.holdout:
            message = await scope.create(
                Message,
                member_id=ids[r.name],
                channel=Channel.SMS,
                purpose=Purpose.MARKETING,
                template_id=template.id,
                source=f"campaign:{stored.id}",
                idempotency_key=f"campaign:{stored.id}",
                status=MessageStatus.SENT if r.sent_at else MessageStatus.HELD,
                reason="" if r.sent_at else "no_consent",
                send_after=launched_at or LATER,
                sent_at=r.sent_at,
            )
            message_id = message.id
        await scope.create(
            CampaignRecipient,
            campaign_id=stored.id,
            member_id=ids[r.name],
            holdout=r.holdout,
            batch=r.batch,
            message_id=message_id,
        )
    clear_cache()
    return stored


async def orders(brand: Brand, buys: Sequence[Buy], ids: dict[str, int]) -> None:
    scope = BrandScope(brand)
    for n, b in enumerate(buys):
        external = f"{brand.code}-{b.member}-{n}"
        await record_order(
            scope,
            OrderInput(
                external_id=external,
                member=MemberRef(member_id=ids[b.member]),
                occurred_at=b.at,
                amount_paid=MoneyAmount(b.paid, brand.currency),
            ),
            now=LATER,
        )
        if b.refunded is not None:
            await record_refund(
                scope,
                RefundInput(
                    external_id=f"{external}-r",
                    occurred_at=b.at.replace(hour=23),
                    order_external_id=external,
                    amount=MoneyAmount(b.refunded, brand.currency),
                ),
                now=LATER,
            )
    clear_cache()


LAUNCH = utc(2025, 3, 1, 10)
BATCH_1 = utc(2025, 3, 2, 10)
RECIPIENTS = (
    R("t1", sent_at=LAUNCH),
    R("t2", sent_at=utc(2025, 3, 1, 10, 5)),
    R("t3", sent_at=LAUNCH),
    R("t4", sent_at=LAUNCH),
    R("h1", holdout=True),
    R("h2", holdout=True),
    R("t5", batch=1, sent_at=BATCH_1),
    R("h3", holdout=True, batch=1),
    R("u1", batch=1),
    R("h4", holdout=True, batch=2),  # a batch that sent nothing: the launch's clock
)
BUYS = (
    Buy("t1", utc(2025, 3, 1, 12), "100.00"),  # day 0
    Buy("t1", utc(2025, 3, 3, 9), "50.00"),  # day 1 (47 h)
    Buy("t2", utc(2025, 3, 5, 10), "80.00", refunded="30.00"),  # day 3 of its 10:05 send, net 50
    Buy("t3", utc(2025, 3, 1, 9), "70.00"),  # before the send
    Buy("t3", utc(2025, 3, 8, 11), "70.00"),  # 7 days 1 h: after the window
    Buy("t5", utc(2025, 3, 2, 9), "40.00"),  # before its own send (batch 1)
    Buy("t5", utc(2025, 3, 8, 12), "40.00"),  # day 6 of its send
    Buy("h1", utc(2025, 3, 2, 11), "60.00"),  # day 1
    Buy("h3", utc(2025, 3, 1, 12), "90.00"),  # before its batch's start
    Buy("h4", utc(2025, 3, 7, 12), "20.00", refunded="20.00"),  # day 6, all refunded
    Buy("u1", utc(2025, 3, 3, 12), "30.00"),  # day 1 of its batch
)


async def scenario(brand: Brand) -> tuple[Campaign, dict[str, int]]:
    """The campaign of docs/campaign-attribution.md's worked example."""
    ids = await members(brand, sorted({r.name for r in RECIPIENTS}))
    stored = await campaign(brand, "spring", LAUNCH, RECIPIENTS, ids=ids)
    await orders(brand, BUYS, ids)
    return stored, ids
