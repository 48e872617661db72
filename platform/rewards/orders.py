"""Where orders and refunds meet the rewards pipeline, one fact at a time:
:func:`reward_orders` for an order recorded alone (a batch takes the set path
of :mod:`tessera.pipeline.orders`), :func:`reverse_for_refund` for a refund.
Called inside the order's (or refund's) unit of work, so an order and
everything it earns commit or roll back together."""

from __future__ import annotations

from collections.abc import Sequence

from tessera.assets.models import LedgerEntry
from tessera.assets.service import reverse_growth, reverse_points
from tessera.members.models import Member
from tessera.orders.inputs import CleanOrder
from tessera.orders.models import Order, Refund
from tessera.rewards.activities import reward_activity
from tessera.rewards.facts import order_facts
from tessera.rewards.pipeline import Applied, apply_rewards, compute_order_rewards, programme
from tessera.scope import BrandScope
from tessera.tiers.service import lock_state
from tessera.uow import UnitOfWork

SOURCE = "order"


async def reward_orders(
    scope: BrandScope, uow: UnitOfWork, recorded: Sequence[tuple[Order, CleanOrder]]
) -> list[Applied]:
    """Compute and apply what each new order earns (points pending for the
    brand's return window, growth, tier upgrade). A member who joined in this
    unit of work (first purchase) first gets what joining earns."""
    prog = await programme(scope)
    if prog.empty or not recorded:
        return []
    conn = uow.connection
    ids = {order.member_id for order, _ in recorded}
    members = {m.id: m for m in await scope.query(Member).using_db(conn).filter(id__in=ids)}
    joined = {e.payload.get("member_id") for e in uow.events if e.name == "member.joined"} & ids
    applied = []
    for order, clean in sorted(recorded, key=lambda pair: pair[1].occurred_at):
        member = members[order.member_id]
        if member.id in joined:
            joined.discard(member.id)
            await reward_activity(
                scope, uow, member, "joined", f"joined:{member.id}", now=clean.occurred_at
            )
        state = await lock_state(scope, uow, member.id, clean.occurred_at)
        plan = await compute_order_rewards(
            scope,
            member,
            order_facts(clean, order.id),
            clean.occurred_at,
            state=state,
            loaded=prog,
        )
        applied.append(await apply_rewards(scope, uow, plan, state=state, hold=True))
    return applied


def share(earned: int, paid: int, refunded_before: int, refunded_after: int) -> int:
    """What a refund takes back of ``earned``: the difference between the
    proportional shares after and before it, so partial refunds add up to
    exactly ``earned`` when the order is refunded in full."""
    if paid <= 0 or earned <= 0:
        return 0
    return earned * refunded_after // paid - earned * refunded_before // paid


async def reverse_for_refund(scope: BrandScope, uow: UnitOfWork, refund: Refund) -> None:
    """Take back the points and growth the refunded order earned, in
    proportion to the money refunded (pending points are cancelled first,
    the rest per the brand's negative-balance policy)."""
    conn = uow.connection
    order = await scope.query(Order).using_db(conn).get(id=refund.order_id)
    after = order.refunded_amount
    before = after - refund.amount
    ref = str(order.id)
    earned: dict[str, int] = {"points": 0, "growth": 0}
    rows = (
        await scope.query(LedgerEntry)
        .using_db(conn)
        .filter(
            source_type=SOURCE,
            source_ref=ref,
            member_id=order.member_id,
            entry_type__in=("earn", "pending"),
        )
        .values_list("kind", "amount")
    )
    for kind, amount in rows:
        if kind in earned:
            earned[kind] += int(amount)
    points = share(earned["points"], order.amount_paid, before, after)
    if points:
        await reverse_points(
            scope,
            source_type=SOURCE,
            source_ref=ref,
            amount=points,
            idempotency_key=f"refund:{refund.id}:points",
            reason=f"refund {refund.external_id}",
            member_id=order.member_id,
            now=refund.occurred_at,
            uow=uow,
        )
    growth = share(earned["growth"], order.amount_paid, before, after)
    if growth:
        await reverse_growth(
            scope,
            source_type=SOURCE,
            source_ref=ref,
            amount=growth,
            idempotency_key=f"refund:{refund.id}:growth",
            reason=f"refund {refund.external_id}",
            member_id=order.member_id,
            now=refund.occurred_at,
            uow=uow,
        )
