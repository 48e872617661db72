"""Checking a brand's ledgers: the engine behind ``tessera ledger verify``.

For every account: the balance is the sum of its entries (pending and cancel
entries excluded, see :mod:`tessera.assets.service`), the pending amount is
what the pending entries left held, the newest entry's ``balance_after`` is
the balance, and for points the lots match: available lots hold the balance
(or zero when it is in debt) and pending lots the pending amount, and the
points reserved are what the member's open checkout holds keep. Accounts are
read in pages and every figure is summed in SQL, a few queries per page.
"""

from __future__ import annotations

from collections import defaultdict
from collections.abc import AsyncIterator, Callable
from dataclasses import dataclass

from tortoise.functions import Max, Sum

from tessera.assets.models import PENDING_ONLY, AssetAccount, LedgerEntry, PointsLot
from tessera.checkout.models import RewardHold
from tessera.scope import BrandScope

PAGE = 1000


@dataclass(frozen=True)
class Problem:
    account_id: int
    member_id: int
    kind: str
    what: str
    expected: int
    found: int

    def __str__(self) -> str:
        return (
            f"account {self.account_id} (member {self.member_id}, {self.kind}): {self.what} "
            f"is {self.found}, expected {self.expected}"
        )


async def count_accounts(scope: BrandScope) -> int:
    return await scope.query(AssetAccount).count()


async def verify_brand(
    scope: BrandScope, progress: Callable[[int], None] | None = None
) -> AsyncIterator[Problem]:
    """Yield every difference found; ``progress(n)`` after each page of ``n`` accounts."""
    last_id = 0
    while True:
        page = await scope.query(AssetAccount).filter(id__gt=last_id).order_by("id").limit(PAGE)
        if not page:
            return
        last_id = page[-1].id
        for problem in await _verify_page(scope, page):
            yield problem
        if progress is not None:
            progress(len(page))


async def _verify_page(scope: BrandScope, page: list[AssetAccount]) -> list[Problem]:
    ids = [a.id for a in page]
    sums: dict[int, dict[str, int]] = defaultdict(lambda: defaultdict(int))
    for row in (
        await scope.query(LedgerEntry)
        .filter(account_id__in=ids)
        .annotate(total=Sum("amount"))
        .group_by("account_id", "entry_type")
        .values("account_id", "entry_type", "total")
    ):
        sums[row["account_id"]][row["entry_type"]] = int(row["total"] or 0)
    newest = [
        row["newest"]
        for row in await scope.query(LedgerEntry)
        .filter(account_id__in=ids)
        .annotate(newest=Max("id"))
        .group_by("account_id")
        .values("account_id", "newest")
    ]
    last_balance = dict(
        await scope.query(LedgerEntry)
        .filter(id__in=newest)
        .values_list("account_id", "balance_after")
    )
    lots: dict[int, dict[str, int]] = defaultdict(lambda: defaultdict(int))
    for row in (
        await scope.query(PointsLot)
        .filter(account_id__in=ids)
        .annotate(total=Sum("remaining"))
        .group_by("account_id", "status")
        .values("account_id", "status", "total")
    ):
        lots[row["account_id"]][row["status"]] = int(row["total"] or 0)

    # Open checkout holds keep part of the points balance: the account's
    # reserved counter is their sum.
    holding = dict(
        await scope.query(RewardHold)
        .filter(member_id__in=[a.member_id for a in page if a.kind == "points"], status="held")
        .annotate(total=Sum("points"))
        .group_by("member_id")
        .values_list("member_id", "total")
    )

    problems = []
    for account in page:
        by_type = sums[account.id]
        expected_balance = sum(v for t, v in by_type.items() if t not in PENDING_ONLY)
        expected_pending = sum(by_type[t] for t in PENDING_ONLY) - by_type["release"]

        def differs(what: str, expected: int, found: int, account: AssetAccount = account) -> None:
            if expected != found:
                problems.append(
                    Problem(account.id, account.member_id, account.kind, what, expected, found)
                )

        differs("balance (sum of entries)", expected_balance, account.balance)
        differs("pending (sum of pending entries)", expected_pending, account.pending)
        if account.id in last_balance:
            differs("newest entry's balance_after", account.balance, last_balance[account.id])
        if account.kind == "points":
            held = lots[account.id]
            differs("available lots' remaining points", max(account.balance, 0), held["available"])
            differs("pending lots' remaining points", account.pending, held["pending"])
            reserved = int(holding.get(account.member_id) or 0)
            differs("reserved (sum of open holds)", reserved, account.reserved)
    return problems
