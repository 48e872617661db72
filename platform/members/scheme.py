"""A brand's membership scheme settings: when people become members (the
join rule) and how their card numbers look."""

from __future__ import annotations

import re
from enum import StrEnum
from typing import Any

from tortoise.exceptions import IntegrityError

from tessera.errors import DomainError
from tessera.members.models import MemberSettings
from tessera.scope import BrandScope
from tessera.uow import unit_of_work

_PREFIX = re.compile(r"^[0-9]{1,8}$")


class JoinRule(StrEnum):
    """When a person becomes a member (DOMAIN.md, Joining).

    - ``registration``: registering (``createMember``) joins.
    - ``first_purchase``: registering makes a prospect; the first recorded
      order joins them, and an order for an unknown identity creates the member.
    - ``paid``: registering makes a prospect, who joins when the membership
      fee is paid (``activateMember``); orders never create members.
    """

    REGISTRATION = "registration"
    FIRST_PURCHASE = "first_purchase"
    PAID = "paid"


def default_card_prefix(brand_id: int) -> str:
    return f"8{brand_id % 1000:03d}"


async def get_settings(scope: BrandScope, connection: Any = None) -> MemberSettings:
    """The brand's settings, created with defaults on first use."""
    query = scope.query(MemberSettings)
    if connection is not None:
        query = query.using_db(connection)
    settings = await query.first()
    if settings is not None:
        return settings
    try:
        # A savepoint inside the caller's transaction: on PostgreSQL a failed
        # insert would otherwise abort the whole transaction.
        async with unit_of_work(scope) as work:
            return await scope.create(
                MemberSettings,
                card_prefix=default_card_prefix(scope.brand_id),
                using_db=work.connection,
            )
    except IntegrityError:
        # Another request created it between our read and our insert.
        return await query.get()


async def update_settings(
    scope: BrandScope,
    *,
    join_rule: JoinRule | None = None,
    card_prefix: str | None = None,
    auto_merge: bool | None = None,
) -> MemberSettings:
    if card_prefix is not None and not _PREFIX.match(card_prefix):
        raise DomainError("INVALID", "card prefix must be 1-8 digits", ["cardPrefix"])
    settings = await get_settings(scope)
    if join_rule is not None:
        settings.join_rule = join_rule.value
    if card_prefix is not None:
        settings.card_prefix = card_prefix
    if auto_merge is not None:
        settings.auto_merge = auto_merge
    await settings.save()
    return settings
