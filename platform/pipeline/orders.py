"""Recording orders: the hub of the product, as the sequence of its steps.

A batch (:func:`record_orders`, behind ``recordOrders``, the importer and the
demo data) goes through, in a constant number of queries whatever its size:

1. **clean** every input (money, lines, fingerprint); a bad item is refused
   with its own errors, named ``["orders", index, ...]``;
2. **replays**: one query finds the external ids recorded before; each such
   item answers as a replay or ``IDEMPOTENCY_CONFLICT``; a repeat of an
   external id earlier in the batch waits for it, and an order that settles a
   checkout (coupons, a points hold) goes alone, since it may be refused;
3. **members**: one query for those named by id; an identity or a member
   who is not active yet goes through :func:`member_for_fact` (it may join);
4. in **one unit of work**: the orders, their lines and the statistics with
   one multi-row insert per table (:func:`tessera.orders.service.insert_orders`),
   then **rewards**: the batch's per-brand state (loyalty components and
   configs, points policy) and per-member state (tier states, locked in one
   statement; tags, growth, spend history) loaded once, each order's rewards
   computed in time order by the same code ``previewOrderRewards`` runs
   (:func:`tessera.rewards.pipeline.compute_order_rewards`), the points and
   growth (and upgrade gifts, in their place) written with
   :func:`tessera.assets.batch.credit_many`, the tier changes decided as each
   order is reached and written together (:mod:`tessera.tiers.batch`).

Each order sees exactly what it would have seen recorded alone after the
ones before it (``tests/pipeline/test_batch_equivalence.py`` compares the two
on random batches). Should the unit of work fail as a whole (a concurrent
writer took an external id or a ledger key, a rule failed, an account would
pass its limit), every item of it is recorded alone, so each gets its own
answer and nothing is applied twice.

One order (:func:`record_order`, behind ``recordOrder``) takes the same steps
with the per-fact rewards path activities use.
"""

from __future__ import annotations

from collections.abc import Sequence
from datetime import UTC, datetime

from tortoise.exceptions import IntegrityError

from tessera import collector
from tessera.assets.batch import GROWTH, POINTS, Credit, credit_many
from tessera.assets.policy import PolicyValues, get_policy
from tessera.assets.service import pending_window_end
from tessera.checkout.settle import needs_settling, settle_order
from tessera.errors import DomainError
from tessera.members.batch import identity_owners
from tessera.members.identities import IdentityKind, normalise
from tessera.members.merge import hold_off_merges
from tessera.members.models import Member
from tessera.members.service import find_by_identities, find_by_identity, member_for_fact
from tessera.orders.inputs import CleanOrder, MemberRef, OrderInput, clean_order, nest_error
from tessera.orders.models import Order
from tessera.orders.service import (
    MAX_BATCH,
    OrderResult,
    check_replay,
    insert_orders,
    recorded_orders,
)
from tessera.pipeline.state import load_history, lock_states
from tessera.rewards.activities import reward_activity
from tessera.rewards.facts import order_facts
from tessera.rewards.orders import reward_orders
from tessera.rewards.pipeline import RewardPlan, compute_order_rewards, programme
from tessera.scope import BrandScope
from tessera.tiers.batch import Change, TierChanges
from tessera.tiers.service import GIFT_SOURCE, gift_points_key, gift_points_reason
from tessera.uow import UnitOfWork, unit_of_work

__all__ = ["MAX_BATCH", "OrderResult", "record_order", "record_orders"]

Outcome = OrderResult | DomainError


async def record_order(
    scope: BrandScope, order: OrderInput, *, now: datetime | None = None
) -> OrderResult:
    """Record ``order`` with its lines and count it into the member's statistics.

    Replaying an ``external_id`` returns the stored order unchanged; the same
    ``external_id`` with other details raises ``IDEMPOTENCY_CONFLICT``.
    """
    clean = clean_order(order, scope.brand.currency, now or datetime.now(UTC), [])
    existing = await scope.query(Order).get_or_none(external_id=clean.external_id)
    if existing is not None:
        return await _replay(scope, existing, clean, [])
    try:
        async with unit_of_work(scope) as uow:
            await hold_off_merges(scope, uow.connection)
            member = await _member(scope, uow, clean.member, clean.channel, [])
            [stored] = await insert_orders(scope, uow, [(clean, member.id)])
            if needs_settling(clean):
                await settle_order(scope, uow, stored, clean)
            await reward_orders(scope, uow, [(stored, clean)])
    except IntegrityError:
        existing = await scope.query(Order).get_or_none(external_id=clean.external_id)
        if existing is None:
            raise
        return await _replay(scope, existing, clean, [])
    return OrderResult(stored)


async def record_orders(
    scope: BrandScope,
    orders: Sequence[OrderInput],
    *,
    now: datetime | None = None,
    cleaned: Sequence[CleanOrder | None] | None = None,
) -> list[Outcome]:
    """Record up to :data:`MAX_BATCH` orders as a set (the module's steps);
    each item succeeds or fails on its own, its errors naming
    ``["orders", index, ...]``. The answers are in input order.

    ``cleaned`` gives, by position, what :func:`clean_order` made of an
    order with this ``now`` and the brand's currency, where the caller has
    it already (the importer cleans each order to recognise recorded ones);
    an order given None is cleaned here."""
    if len(orders) > MAX_BATCH:
        raise DomainError("BATCH_TOO_LARGE", f"a batch has at most {MAX_BATCH} orders", ["orders"])
    with collector.held():
        return await _record_orders(scope, orders, now or datetime.now(UTC), cleaned)


async def _record_orders(
    scope: BrandScope,
    orders: Sequence[OrderInput],
    now: datetime,
    cleaned: Sequence[CleanOrder | None] | None,
) -> list[Outcome]:
    results: list[Outcome | None] = [None] * len(orders)
    valid = _clean(scope, orders, now, results, cleaned or [None] * len(orders))
    fresh, later = await _replays(scope, valid, results)
    try:
        await _record_together(scope, fresh, results)
    except (IntegrityError, DomainError):
        # A taken id or ledger key, a rule that raised (RewardsFailed), an
        # award or balance past its limit: nothing of the batch was written;
        # alone, each item gets its own answer.
        for i in fresh:
            results[i] = await _record_alone(scope, orders[i], now, i)
    for i in later:
        results[i] = await _record_alone(scope, orders[i], now, i)
    return [r for r in results if r is not None]


# --- the steps ----------------------------------------------------------------


def _clean(
    scope: BrandScope,
    orders: Sequence[OrderInput],
    now: datetime,
    results: list[Outcome | None],
    given: Sequence[CleanOrder | None],
) -> dict[int, CleanOrder]:
    cleaned: dict[int, CleanOrder] = {}
    for i, (order, clean) in enumerate(zip(orders, given, strict=True)):
        if clean is not None:
            cleaned[i] = clean
            continue
        try:
            cleaned[i] = clean_order(order, scope.brand.currency, now, ["orders", str(i)])
        except DomainError as error:
            results[i] = error
    return cleaned


async def _replays(
    scope: BrandScope, cleaned: dict[int, CleanOrder], results: list[Outcome | None]
) -> tuple[dict[int, CleanOrder], list[int]]:
    """Answer the items recorded before (one query); the new ones to record
    together, and those that go alone after them."""
    existing = await recorded_orders(scope, {c.external_id for c in cleaned.values()})
    # The members replays name by identity, in one query.
    named = await find_by_identities(
        scope,
        [
            c.member.identity
            for c in cleaned.values()
            if c.external_id in existing and c.member.member_id is None and c.member.identity
        ],
    )
    fresh: dict[int, CleanOrder] = {}
    later: list[int] = []  # repeats of an external id earlier in this batch
    seen: set[str] = set()
    for i, clean in cleaned.items():
        if clean.external_id in existing:
            by_identity = named.get(clean.member.identity) if clean.member.identity else None
            if isinstance(by_identity, DomainError):
                results[i] = by_identity
                continue
            try:
                results[i] = await check_replay(
                    existing[clean.external_id],
                    clean,
                    ["orders", str(i)],
                    by_identity,
                )
            except DomainError as error:
                results[i] = error
        elif clean.external_id in seen or needs_settling(clean):
            # Repeats wait for the first; an order that uses coupons or a hold
            # may be refused for them, so it goes alone, not failing the rest.
            later.append(i)
        else:
            seen.add(clean.external_id)
            fresh[i] = clean
    return fresh, later


async def _record_together(
    scope: BrandScope, fresh: dict[int, CleanOrder], results: list[Outcome | None]
) -> None:
    if not fresh:
        return
    async with unit_of_work(scope) as uow:
        # The members are read after this lock, in the unit of work, so a
        # merge either moves these orders or is seen (a tombstone is not
        # active and goes through member_for_fact to its survivor).
        await hold_off_merges(scope, uow.connection)
        # Those named by an identity (an import names them all so) are found
        # on the blind index in one query, then read with those named by id
        # in another; anything but an active member goes through
        # member_for_fact below, as when alone (it may join, be created or
        # be refused with its own error).
        by_identity = await _identity_owners(
            scope, {c.member.identity for c in fresh.values() if c.member.identity is not None}
        )
        known = await _members(
            scope,
            uow,
            {c.member.member_id for c in fresh.values() if c.member.member_id}
            | set(by_identity.values()),
        )
        rows: list[tuple[CleanOrder, int]] = []
        positions: list[int] = []
        members: dict[int, Member] = {}
        for i, clean in fresh.items():
            if clean.member.member_id is None and clean.member.identity is not None:
                member = known.get(by_identity.get(clean.member.identity, 0))
            else:
                member = known.get(clean.member.member_id or 0)
            if member is None or member.status != "active":
                try:
                    member = await _member(
                        scope, uow, clean.member, clean.channel, ["orders", str(i)]
                    )
                except DomainError as error:
                    results[i] = error
                    continue
            members[member.id] = member
            rows.append((clean, member.id))
            positions.append(i)
        stored = await insert_orders(scope, uow, rows)
        await _reward(scope, uow, [(o, c) for o, (c, _) in zip(stored, rows, strict=True)], members)
    for i, order in zip(positions, stored, strict=True):
        results[i] = OrderResult(order)


async def _members(scope: BrandScope, uow: UnitOfWork, ids: set[int]) -> dict[int, Member]:
    """The members of ``ids``, with what recording and rewarding read of
    them (History.facts; the profile's JSON is not decoded): one query, one
    primary-key probe per id (:meth:`BrandScope.rows_by_key`)."""
    rows = await scope.rows_by_key(
        uow.connection, "member", "id", ids, "id, brand_id, status, joined_at, birthday"
    )
    return {m.id: m for m in scope.loaded(Member, rows)}


async def _identity_owners(
    scope: BrandScope, identities: set[tuple[str, str]]
) -> dict[tuple[str, str], int]:
    """Member id of each identity (as given) that one holds: one query on
    the blind index. Those that do not normalise are left out (alone, they
    get their error)."""
    stored: dict[tuple[str, str], tuple[str, str]] = {}
    region = scope.brand.default_region
    for given in identities:
        kind = _KINDS.get(given[0].lower())
        if kind is None:
            continue
        try:
            stored[given] = (kind.value, normalise(kind, given[1], region, []))
        except DomainError:
            continue
    owners = await identity_owners(scope, set(stored.values()))
    return {given: owners[key] for given, key in stored.items() if key in owners}


_KINDS = {kind.value: kind for kind in IdentityKind}


async def _reward(
    scope: BrandScope,
    uow: UnitOfWork,
    recorded: list[tuple[Order, CleanOrder]],
    members: dict[int, Member],
) -> None:
    """What the batch's orders earn, in time order, each as if recorded alone
    after the ones before it."""
    prog = await programme(scope)
    if prog.empty or not recorded:
        return
    ordered = sorted(recorded, key=lambda pair: pair[1].occurred_at)
    first: dict[int, datetime] = {}
    for order, clean in ordered:
        first.setdefault(order.member_id, clean.occurred_at)
    # A member who joined with this batch (first purchase) first gets what
    # joining earns: a fact on that member's accounts alone, so it may run
    # before the orders without changing what any of them sees.
    joined = {e.payload.get("member_id") for e in uow.events if e.name == "member.joined"}
    for member_id in sorted(m for m in first if m in joined):
        await reward_activity(
            scope,
            uow,
            members[member_id],
            "joined",
            f"joined:{member_id}",
            now=first[member_id],
        )
    history = await load_history(
        scope,
        uow,
        list(first),
        leave_out={o.id for o, _ in recorded},
        windows=prog.policy is not None,
    )
    tiers = await history.tiers()
    states = await lock_states(scope, uow, first, tiers)
    changes = TierChanges(scope, tiers)
    policy = await get_policy(scope, uow.connection)
    credits: list[Credit] = []
    gifts: list[tuple[int, Change]] = []  # gift credits wait for their history's id
    for order, clean in ordered:
        member, state = members[order.member_id], states[order.member_id]
        plan = await compute_order_rewards(
            scope,
            member,
            order_facts(clean, order.id),
            clean.occurred_at,
            state=state,
            loaded=prog,
            history=history,
        )
        credits += _credits(scope, plan, policy)
        history.recorded(
            member.id, clean.external_id, clean.occurred_at, clean.amount_paid, plan.growth
        )
        if plan.policy_key is not None:
            change = changes.on_fact(
                state,
                plan.grant,
                policy_key=plan.policy_key,
                source=f"{plan.source_type}:{plan.source_ref}",
                at=plan.occurred_at,
            )
            if change is not None and change.gift_points:
                # In the member's points right after what this order earned.
                gifts.append((len(credits), change))
                credits.append(_placeholder(plan.occurred_at))
    await changes.write(uow)
    for index, change in gifts:
        credits[index] = _gift(change)
    await credit_many(scope, uow, credits, policy)
    await changes.announce(uow)


def _credits(scope: BrandScope, plan: RewardPlan, policy: PolicyValues) -> list[Credit]:
    """The ledger writes of ``plan``, as :func:`apply_rewards` makes them."""
    held = pending_window_end(scope, plan.occurred_at, policy) if plan.points else None
    made = [
        Credit(
            POINTS,
            item.member_id,
            item.points,
            item.idempotency_key,
            f"{item.rule}: {item.reason}"[:500],
            plan.source_type,
            plan.source_ref,
            plan.occurred_at,
            held if item.member_id == plan.member_id else None,
        )
        for item in plan.points
    ]
    if plan.growth:
        made.append(
            Credit(
                GROWTH,
                plan.member_id,
                plan.growth,
                f"{plan.source_type}:{plan.source_ref}:growth",
                f"{plan.policy_key}: growth",
                plan.source_type,
                plan.source_ref,
                plan.occurred_at,
            )
        )
    return made


def _gift(change: Change) -> Credit:
    history, tier = change.history, change.target
    assert tier is not None
    return Credit(
        POINTS,
        history.member_id,
        change.gift_points,
        gift_points_key(history),
        gift_points_reason(tier),
        GIFT_SOURCE,
        str(history.id),
        history.at,
    )


def _placeholder(at: datetime) -> Credit:
    """Holds a gift's place until :func:`_gift` replaces it."""
    return Credit(POINTS, 0, 1, "", "", "", None, at)


async def _record_alone(scope: BrandScope, order: OrderInput, now: datetime, index: int) -> Outcome:
    try:
        return await record_order(scope, order, now=now)
    except DomainError as error:
        return nest_error(error, ["orders", str(index)])


async def _member(
    scope: BrandScope, uow: UnitOfWork, ref: MemberRef, channel: str | None, path: list[str]
) -> Member:
    try:
        return await member_for_fact(
            scope,
            uow,
            member_id=ref.member_id,
            identity=ref.identity,
            join_channel=channel,
        )
    except DomainError as error:
        raise nest_error(
            error, path, member_field="memberId" if ref.member_id else "identity"
        ) from None


async def _replay(
    scope: BrandScope, existing: Order, clean: CleanOrder, path: list[str]
) -> OrderResult:
    by_identity = None
    if clean.member.member_id is None and clean.member.identity is not None:
        by_identity = await find_by_identity(scope, *clean.member.identity)
    return await check_replay(existing, clean, path, by_identity)
