"""Membership card numbers: the brand's digit prefix, a per-brand sequence
and a Luhn check digit, so a mistyped or misread card is caught at the till."""

from __future__ import annotations

from typing import Any

from tessera.db import numbered
from tessera.members.identities import IdentityKind
from tessera.members.models import MemberIdentity, MemberSettings
from tessera.members.scheme import get_settings
from tessera.scope import BrandScope

SEQUENCE_DIGITS = 9


def luhn_digit(digits: str) -> str:
    total = 0
    for position, char in enumerate(reversed(digits)):
        value = int(char)
        if position % 2 == 0:
            value *= 2
            if value > 9:
                value -= 9
        total += value
    return str((10 - total % 10) % 10)


def is_valid_card(number: str) -> bool:
    return number.isdigit() and len(number) > 1 and luhn_digit(number[:-1]) == number[-1]


def format_card(prefix: str, sequence: int) -> str:
    body = f"{prefix}{sequence:0{SEQUENCE_DIGITS}d}"
    return body + luhn_digit(body)


async def next_card_number(scope: BrandScope, connection: Any) -> str:
    """A card number no member of the brand has. Call inside the unit of work
    that stores it: the sequence row stays locked until that commits."""
    [number] = await next_card_numbers(scope, connection, 1, set())
    return number


async def next_card_numbers(
    scope: BrandScope, connection: Any, count: int, also_taken: set[str]
) -> list[str]:
    """``count`` card numbers no member of the brand has and none of
    ``also_taken`` (cards of the same batch), taking a run of the sequence
    in one update and checking it in one query. The conditional increment is
    the lock (DESIGN.md: concurrency is the database's job), so reading it
    back in the same transaction is safe."""
    numbers: list[str] = []
    # The run taken and, under the row's lock, the sequence's new end and the
    # prefix read back in the same statement: one round trip of every member
    # created (and of every batch of an import).
    take = numbered(
        connection,
        f'UPDATE "{MemberSettings._meta.db_table}" SET "card_sequence" = "card_sequence" + ? '
        'WHERE "brand_id" = ? RETURNING "card_sequence", "card_prefix"',
    )
    while len(numbers) < count:
        wanted = count - len(numbers)
        # (Tortoise's execute_query drops what an UPDATE returns on PostgreSQL.)
        advanced = await connection.execute_query_dict(take, [wanted, scope.brand_id])
        if not advanced:  # the brand's settings are made on first use
            await get_settings(scope, connection)
            advanced = await connection.execute_query_dict(take, [wanted, scope.brand_id])
        if not advanced:
            # get_settings made the row in this transaction: only a delete
            # between the two statements would leave none.
            raise RuntimeError(f"brand {scope.brand_id} has no member settings to number cards by")
        [sequence] = advanced
        last, prefix = int(sequence["card_sequence"]), str(sequence["card_prefix"])
        run = [format_card(prefix, n) for n in range(last - wanted + 1, last + 1)]
        # The run's numbers have one length and ascend as text too: one range
        # of the (brand, reference) index holds any imported card among them.
        taken = set(
            await scope.query(MemberIdentity)
            .using_db(connection)
            .filter(
                kind=IdentityKind.CARD_NUMBER.value, reference__gte=run[0], reference__lte=run[-1]
            )
            .values_list("reference", flat=True)
        )
        numbers += [n for n in run if n not in taken and n not in also_taken]
    return numbers
