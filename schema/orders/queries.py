"""Reading orders: one by id, and a member's orders and statistics (fields
the members' ``Member`` type delegates here)."""

from __future__ import annotations

import strawberry
from strawberry.types import Info

from tessera.orders.models import Order as OrderModel
from tessera.schema.ids import decode_id
from tessera.schema.orders.loaders import stats_loader
from tessera.schema.orders.timeline import member_timeline
from tessera.schema.orders.types import MemberStats, Order
from tessera.schema.pagination import Connection, Window
from tessera.schema.permissions import CanRead


@strawberry.type
class OrdersQuery:
    @strawberry.field(
        description="An order of the caller's brand by id; null when there is none.",
        permission_classes=[CanRead],
    )
    async def order(self, info: Info, id: strawberry.ID) -> Order | None:
        scope = info.context.scope
        pk = decode_id(str(id), "Order")
        found = None if pk is None else await scope.get(OrderModel, pk)
        return None if found is None else Order.from_model(found, scope.brand.currency)


async def member_stats(info: Info, member_id: int) -> MemberStats:
    view = await stats_loader(info).load(member_id)
    return MemberStats.from_view(view, info.context.scope.brand.currency)


async def member_orders(info: Info, member_id: int, window: Window) -> Connection[Order]:
    currency = info.context.scope.brand.currency
    return await member_timeline(
        info,
        OrderModel,
        member_id,
        window,
        to_node=lambda row: Order.from_model(row, currency),
    )
