"""Issuing coupons to one member, or to up to 10,000 at once.

Each issue is one transaction whose first write is the coupon row, unique on
``(brand, idempotency_key)``: two calls with one key cannot both commit, and
the loser answers with the winner's coupon. Then two conditional updates,
always in this order so concurrent issues queue rather than deadlock:

- the member's allowance: ``issued = issued + 1 WHERE issued < limit``;
- the template's stock: ``issued_count = issued_count + 1 WHERE
  issued_count < total_stock``.

A refused update raises and rolls the coupon back, so stock is never
oversold and nothing is half-issued.
"""

from __future__ import annotations

from collections.abc import Sequence
from datetime import UTC, datetime
from typing import Any

from tortoise.exceptions import IntegrityError
from tortoise.expressions import F, Q

from tessera.coupons import codes
from tessera.coupons.models import Coupon, CouponAllowance, CouponTemplate
from tessera.coupons.templates import require_template, window
from tessera.coupons.work import connection_of
from tessera.errors import DomainError
from tessera.idempotency import conflict, fingerprint, stored_key
from tessera.members.models import Member
from tessera.members.profile import MemberStatus
from tessera.scope import BrandScope
from tessera.uow import UnitOfWork, unit_of_work

MAX_BULK = 10_000
CHUNK = 500
_ISSUABLE = {MemberStatus.ACTIVE.value, MemberStatus.PROSPECT.value}
# A fresh code colliding with a stored one is a one-in-2**80 event per pair;
# a couple of retries make it irrelevant.
_CODE_ATTEMPTS = 3


async def issue_coupon(
    scope: BrandScope,
    *,
    template_id: int | None,
    member_id: int | None,
    idempotency_key: str | None,
    now: datetime | None = None,
    uow: UnitOfWork | None = None,
) -> Coupon:
    """Issue a coupon of ``template_id`` to ``member_id``. Replaying the key
    returns the first coupon; the same key for another template or member
    raises ``IDEMPOTENCY_CONFLICT``."""
    key = _key(idempotency_key)
    now = now or datetime.now(UTC)
    print_ = fingerprint({"template": template_id, "member": member_id})
    conn = connection_of(uow)
    existing = await scope.query(Coupon).using_db(conn).get_or_none(idempotency_key=key)
    if existing is not None:
        return _replay(existing, print_)
    template = await issuable_template(scope, template_id, now, conn)
    member_id = await _issuable_member(scope, member_id, "memberId", conn)
    for _ in range(_CODE_ATTEMPTS):
        try:
            async with unit_of_work(scope, uow) as work:
                return await _issue_one(scope, work, template, member_id, key, print_, now)
        except IntegrityError:
            existing = await scope.query(Coupon).using_db(conn).get_or_none(idempotency_key=key)
            if existing is not None:
                return _replay(existing, print_)
    raise RuntimeError("could not draw an unused coupon code")


def _key(value: str | None) -> str:
    return stored_key((value or "").strip())


def _replay(existing: Coupon, print_: str) -> Coupon:
    if existing.fingerprint != print_:
        raise conflict()
    return existing


async def issuable_template(
    scope: BrandScope, template_id: int | None, now: datetime, conn: Any = None
) -> CouponTemplate:
    template = await require_template(scope, template_id, "templateId")
    if not template.active:
        raise DomainError("TEMPLATE_INACTIVE", "this coupon template is not active", ["templateId"])
    _, expires = window(template, scope.brand.timezone, now)
    if expires <= now:
        raise DomainError("TEMPLATE_EXPIRED", "this template's validity has ended", ["templateId"])
    return template


async def _issuable_member(scope: BrandScope, member_id: int | None, field: str, conn: Any) -> int:
    found = []
    if member_id is not None:
        found = await (
            scope.query(Member).using_db(conn).filter(id=member_id).values_list("status", flat=True)
        )
    status = found[0] if found else None
    if status is None:
        raise DomainError("NOT_FOUND", "no such member", [field])
    if status not in _ISSUABLE:
        raise DomainError("MEMBER_INACTIVE", f"a {status} member cannot get coupons", [field])
    return member_id  # type: ignore[return-value]  # status was found, so it is an id


async def _issue_one(
    scope: BrandScope,
    work: UnitOfWork,
    template: CouponTemplate,
    member_id: int,
    key: str,
    print_: str,
    now: datetime,
) -> Coupon:
    conn = work.connection
    valid_from, expires_at = window(template, scope.brand.timezone, now)
    coupon = await scope.create(
        Coupon,
        using_db=conn,
        template_id=template.id,
        member_id=member_id,
        code=codes.new_code(),
        issued_at=now,
        valid_from=valid_from,
        expires_at=expires_at,
        idempotency_key=key,
        fingerprint=print_,
    )
    await _ensure_allowances(scope, conn, template.id, [member_id])
    allowance = (
        scope.query(CouponAllowance)
        .using_db(conn)
        .filter(template_id=template.id, member_id=member_id)
    )
    if template.per_member_limit is not None:
        allowance = allowance.filter(issued__lt=template.per_member_limit)
    if not await allowance.update(issued=F("issued") + 1):
        raise DomainError(
            "OVER_MEMBER_LIMIT",
            f"this member already has the most coupons of this template "
            f"({template.per_member_limit})",
            ["memberId"],
        )
    if not await _take_stock(scope, conn, template.id, 1):
        raise await _stock_error(scope, conn, template.id, ["templateId"])
    work.emit("coupon.issued", **issued_payload(coupon))
    return coupon


def issued_payload(coupon: Coupon) -> dict[str, Any]:
    return {
        "coupon_id": coupon.id,
        "code": coupon.code,
        "template_id": coupon.template_id,
        "member_id": coupon.member_id,
        "expires_at": coupon.expires_at.isoformat(),
    }


async def _ensure_allowances(
    scope: BrandScope, conn: Any, template_id: int, member_ids: Sequence[int]
) -> None:
    # ON CONFLICT DO NOTHING: a concurrent first issue to the same member
    # creates the row too, and neither call may fail for it.
    rows = [scope.build(CouponAllowance, template_id=template_id, member_id=m) for m in member_ids]
    await scope.insert_many(CouponAllowance, rows, conn, ignore_conflicts=True)


async def _take_stock(scope: BrandScope, conn: Any, template_id: int, n: int) -> int:
    return await (
        scope.query(CouponTemplate)
        .using_db(conn)
        .filter(Q(total_stock__isnull=True) | Q(issued_count__lte=F("total_stock") - n))
        .filter(id=template_id, active=True)
        .update(issued_count=F("issued_count") + n)
    )


async def _stock_error(
    scope: BrandScope, conn: Any, template_id: int, field: list[str]
) -> DomainError:
    fresh = await scope.query(CouponTemplate).using_db(conn).get(id=template_id)
    if not fresh.active:
        return DomainError("TEMPLATE_INACTIVE", "this coupon template is not active", field)
    return DomainError(
        "OUT_OF_STOCK", f"all {fresh.total_stock} coupons of this template were issued", field
    )


async def issue_coupons(
    scope: BrandScope,
    *,
    template_id: int | None,
    member_ids: Sequence[int | None],
    idempotency_key: str | None,
    now: datetime | None = None,
) -> list[Coupon | DomainError]:
    """Issue one coupon of ``template_id`` to each of ``member_ids`` (at most
    :data:`MAX_BULK`): one result per member, in order, a coupon or the error
    naming ``["memberIds", index]``. Item ``i`` has the idempotency key
    ``"<key>:<member id>"``, so replaying the batch returns the same coupons.

    Members are issued in chunks of :data:`CHUNK`, each one transaction with
    set-based conditional updates; when stock runs out part-way, the members
    earlier in the list get the coupons.
    """
    if len(member_ids) > MAX_BULK:
        raise DomainError(
            "BATCH_TOO_LARGE", f"a bulk issue has at most {MAX_BULK} members", ["memberIds"]
        )
    key = _key(idempotency_key)
    now = now or datetime.now(UTC)
    template = await issuable_template(scope, template_id, now)
    results: list[Coupon | DomainError | None] = [None] * len(member_ids)

    def fail(i: int, code: str, message: str) -> None:
        results[i] = DomainError(code, message, ["memberIds", str(i)])

    wanted: dict[int, int] = {}  # member id -> index
    for i, member_id in enumerate(member_ids):
        if member_id is None:
            fail(i, "NOT_FOUND", "no such member")
        elif member_id in wanted:
            fail(i, "DUPLICATE", "this member is listed before; each gets one coupon per call")
        else:
            wanted[member_id] = i
    statuses: dict[int, str] = {}
    existing: dict[str, Coupon] = {}
    ids = list(wanted)
    for start in range(0, len(ids), CHUNK):
        part = ids[start : start + CHUNK]
        statuses.update(
            await scope.query(Member).filter(id__in=part).values_list("id", "status")  # type: ignore[arg-type]
        )
        for coupon in await scope.query(Coupon).filter(
            idempotency_key__in=[_item_key(key, m) for m in part]
        ):
            existing[coupon.idempotency_key] = coupon

    fresh: list[int] = []
    for member_id, i in wanted.items():
        print_ = fingerprint({"template": template.id, "member": member_id})
        found = existing.get(_item_key(key, member_id))
        if found is not None:
            results[i] = found if found.fingerprint == print_ else _nested(conflict(), i)
        elif member_id not in statuses:
            fail(i, "NOT_FOUND", "no such member")
        elif statuses[member_id] not in _ISSUABLE:
            fail(i, "MEMBER_INACTIVE", f"a {statuses[member_id]} member cannot get coupons")
        else:
            fresh.append(member_id)

    for start in range(0, len(fresh), CHUNK):
        part = fresh[start : start + CHUNK]
        try:
            await _issue_chunk(scope, template, part, key, now, wanted, results)
        except IntegrityError:
            # A concurrent call with this key, or a code collision: the chunk
            # rolled back whole, so each member goes through the single path.
            for member_id in part:
                i = wanted[member_id]
                try:
                    results[i] = await issue_coupon(
                        scope,
                        template_id=template.id,
                        member_id=member_id,
                        idempotency_key=_item_key(key, member_id),
                        now=now,
                    )
                except DomainError as error:
                    results[i] = _nested(error, i)
    return [
        r if r is not None else _nested(DomainError("INVALID", "not issued"), i)
        for i, r in enumerate(results)
    ]


def _item_key(key: str, member_id: int) -> str:
    return f"{key}:{member_id}"


def _nested(error: DomainError, index: int) -> DomainError:
    return DomainError(error.code, error.message, ["memberIds", str(index)])


async def _issue_chunk(
    scope: BrandScope,
    template: CouponTemplate,
    member_ids: list[int],
    key: str,
    now: datetime,
    index: dict[int, int],
    results: list[Any],
) -> None:
    outcome: dict[int, Coupon | DomainError] = {}
    async with unit_of_work(scope) as work:
        conn = work.connection
        await _ensure_allowances(scope, conn, template.id, member_ids)
        # Locks, in the same order as the single path: allowances, then template.
        # Model rows, not values_list: Tortoise drops FOR UPDATE from values queries.
        held = {
            row.member_id: row.issued
            for row in await scope.query(CouponAllowance)
            .using_db(conn)
            .select_for_update()
            .filter(template_id=template.id, member_id__in=member_ids)
            .order_by("member_id")
            .only("id", "member_id", "issued")
        }
        locked = (
            await scope.query(CouponTemplate).using_db(conn).select_for_update().get(id=template.id)
        )
        limit = locked.per_member_limit
        eligible = [m for m in member_ids if limit is None or held[m] < limit]
        for m in member_ids:
            if m not in eligible:
                outcome[m] = DomainError(
                    "OVER_MEMBER_LIMIT",
                    f"this member already has the most coupons of this template ({limit})",
                )
        room = (
            len(eligible)
            if locked.total_stock is None
            else max(locked.total_stock - locked.issued_count, 0)
        )
        granted, unserved = eligible[:room], eligible[room:]
        for m in unserved:
            outcome[m] = DomainError(
                "OUT_OF_STOCK", f"all {locked.total_stock} coupons of this template were issued"
            )
        if granted and not locked.active:
            for m in granted:
                outcome[m] = DomainError("TEMPLATE_INACTIVE", "this coupon template is not active")
            granted = []
        if granted:
            if await _take_stock(scope, conn, template.id, len(granted)) != 1:
                raise RuntimeError("coupon stock changed under its row lock")
            allowance = (
                scope.query(CouponAllowance)
                .using_db(conn)
                .filter(template_id=template.id, member_id__in=granted)
            )
            if limit is not None:
                allowance = allowance.filter(issued__lt=limit)
            if await allowance.update(issued=F("issued") + 1) != len(granted):
                raise RuntimeError("coupon allowances changed under their row locks")
            valid_from, expires_at = window(locked, scope.brand.timezone, now)
            rows = [
                scope.build(
                    Coupon,
                    template_id=template.id,
                    member_id=m,
                    code=codes.new_code(),
                    issued_at=now,
                    valid_from=valid_from,
                    expires_at=expires_at,
                    idempotency_key=_item_key(key, m),
                    fingerprint=fingerprint({"template": template.id, "member": m}),
                )
                for m in granted
            ]
            await scope.insert_many(Coupon, rows, conn)
            stored = (
                await scope.query(Coupon)
                .using_db(conn)
                .filter(idempotency_key__in=[_item_key(key, m) for m in granted])
            )
            for coupon in stored:
                outcome[coupon.member_id] = coupon
                work.emit("coupon.issued", **issued_payload(coupon))
    for m, value in outcome.items():
        i = index[m]
        results[i] = _nested(value, i) if isinstance(value, DomainError) else value
