"""What a provider's delivery receipts change: the message's status and
times, and the member's consent and do-not-contact (a bounce or complaint
stops the channel; an unsubscribe withdraws marketing consent)."""

from __future__ import annotations

import logging
from datetime import UTC, datetime

from tortoise.expressions import Q

from tessera.channels import service
from tessera.channels.models import (
    Channel,
    DoNotContactReason,
    Message,
    MessageStatus,
    Purpose,
)
from tessera.plugin_host.components import Receipt, ReceiptStatus
from tessera.scope import BrandScope
from tessera.uow import unit_of_work

log = logging.getLogger("tessera.channels")

_STOPS = {
    ReceiptStatus.BOUNCED: DoNotContactReason.BOUNCED,
    ReceiptStatus.COMPLAINED: DoNotContactReason.COMPLAINT,
}


async def _find(scope: BrandScope, component: str, receipt: Receipt) -> Message | None:
    query = scope.query(Message)
    if receipt.message_id and receipt.message_id.isdigit():
        return await query.filter(id=int(receipt.message_id)).first()
    if receipt.provider_id:
        return await query.filter(provider=component, provider_id=receipt.provider_id).first()
    return None


async def apply(scope: BrandScope, component: str, receipts: list[Receipt]) -> int:
    """Apply ``receipts`` reported by the sender ``component``; returns how
    many named a message of the brand (others are logged and ignored: a
    provider may report messages older than the log keeps)."""
    applied = 0
    for receipt in receipts:
        message = await _find(scope, component, receipt)
        if message is None:
            log.info("receipt for an unknown message", extra={"component": component})
            continue
        applied += 1
        await _apply_one(scope, message, receipt)
    return applied


async def _apply_one(scope: BrandScope, message: Message, receipt: Receipt) -> None:
    at = receipt.occurred_at or datetime.now(UTC)
    status = receipt.status
    rows = scope.query(Message).filter(id=message.id)
    async with unit_of_work(scope) as uow:
        this = rows.using_db(uow.connection)
        if status is ReceiptStatus.DELIVERED:
            # Only forward: a late "delivered" does not undo an "opened" or a bounce.
            await this.filter(status=MessageStatus.SENT).update(
                status=MessageStatus.DELIVERED, delivered_at=at
            )
        elif status in (ReceiptStatus.FAILED, ReceiptStatus.BOUNCED):
            detail = f"receipt: {status.value}" + (f": {receipt.detail}" if receipt.detail else "")
            await this.filter(
                Q(status=MessageStatus.SENT) | Q(status=MessageStatus.DELIVERED)
            ).update(status=MessageStatus.FAILED, reason=detail[:500])
        elif status is ReceiptStatus.OPENED:
            await this.filter(opened_at__isnull=True).update(opened_at=at)
        elif status is ReceiptStatus.CLICKED:
            await this.filter(clicked_at__isnull=True).update(clicked_at=at)
        if status in _STOPS:
            await service.add_do_not_contact(
                scope,
                message.member_id,
                message.channel,
                _STOPS[status],
                receipt.detail or "",
                connection=uow.connection,
            )
    if status is ReceiptStatus.UNSUBSCRIBED:
        await service.set_consent(
            scope, message.member_id, message.channel, Purpose.MARKETING, False, "receipt"
        )


async def unsubscribe(scope: BrandScope, member_id: int, channel: Channel, source: str) -> None:
    """Withdraw the member's marketing consent on ``channel`` (transactional
    messages about their own account still reach them)."""
    await service.set_consent(scope, member_id, channel, Purpose.MARKETING, False, source)
