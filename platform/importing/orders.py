"""``tessera import orders``: past purchases, through ``record_orders``, so
each is stored and counted into its member's statistics exactly as when a
shop records it.

One row per order line. The rows of one order are consecutive and share
its ``external_id``; the order's own columns (member, time, amounts...) are
read from its first row and must not differ on the others. An order is
all-or-nothing: when it is refused every one of its rows goes to the
rejects file. Re-importing a file changes nothing: orders are idempotent on
``external_id``.
"""

from __future__ import annotations

from collections.abc import Iterable, Iterator
from datetime import UTC, datetime
from decimal import Decimal

from tortoise import connections

from tessera.bulk_load import bulk_load
from tessera.errors import DomainError, DomainErrors
from tessera.importing.csv_rows import (
    CsvHeaderError,
    CsvRow,
    cell_int,
    cell_list,
    cell_time,
    prepared_batches,
)
from tessera.importing.rejects import RejectsFile, column_name, reason_of
from tessera.importing.report import ImportReport, OnProgress
from tessera.members.batch import identity_owners
from tessera.members.identities import IdentityKind, normalise
from tessera.orders.inputs import CleanOrder, LineInput, MemberRef, OrderInput, clean_order
from tessera.orders.models import MemberStats, Order, OrderLine
from tessera.orders.money import MoneyAmount, parse_amount
from tessera.pipeline.orders import MAX_BATCH, record_orders
from tessera.scope import BrandScope

BATCH_SIZE = MAX_BATCH
_ORDER_TABLE = Order._meta.db_table
_FILLS = (Order, OrderLine, MemberStats)
# A batch read from the file: its orders, their rows, and the refused groups.
Prepared = tuple[list[OrderInput], list[list[CsvRow]], list[tuple[list[CsvRow], DomainError]]]
# Each order as it would be recorded, by id() (None: it does not clean).
Cleaned = dict[int, CleanOrder | None]
MEMBER_PREFIX = "member_"
MEMBER_COLUMNS = tuple(MEMBER_PREFIX + kind.value for kind in IdentityKind)
MEMBER_KINDS = tuple((column, column[len(MEMBER_PREFIX) :]) for column in MEMBER_COLUMNS)
ORDER_COLUMNS = (
    "external_id",
    "occurred_at",
    "amount_paid",
    "retail_amount",
    "discount",
    "coupon_codes",
    "store_code",
    "channel",
    "currency",
    *MEMBER_COLUMNS,
)
LINE_COLUMNS = ("sku", "name", "category", "quantity", "unit_price", "retail_price")
REQUIRED = ("external_id", "occurred_at", "amount_paid")


def check_header(header: list[str]) -> None:
    """Refuse a file whose columns cannot all be imported, before any row is."""
    unknown = [c for c in header if c not in ORDER_COLUMNS and c not in LINE_COLUMNS]
    missing = [c for c in REQUIRED if c not in header]
    problems = []
    if unknown:
        problems.append("unknown column(s): " + ", ".join(unknown))
    if missing:
        problems.append("missing column(s): " + ", ".join(missing))
    if not any(c in header for c in MEMBER_COLUMNS):
        problems.append("no member column (member_external_id, member_phone, ...)")
    if problems:
        raise CsvHeaderError("; ".join(problems) + "; see docs/import.md")


def _groups(rows: Iterable[CsvRow]) -> Iterator[list[CsvRow]]:
    """Consecutive rows with the same ``external_id``: one order each."""
    group: list[CsvRow] = []
    current = ""
    for row in rows:
        order_id = _order_id(row)
        if group and order_id != current:
            yield group
            group = []
        current = order_id
        group.append(row)
    if group:
        yield group


def _order_id(row: CsvRow) -> str:
    return row.values.get("external_id", "").strip()


async def import_orders(
    scope: BrandScope,
    rows: Iterable[CsvRow],
    rejects: RejectsFile,
    *,
    batch_size: int = BATCH_SIZE,
    progress: OnProgress | None = None,
    now: datetime | None = None,
) -> ImportReport:
    """Import ``rows`` (consumed lazily, ``batch_size`` orders at a time);
    refused orders go to ``rejects`` row by row and the rest go in.
    ``report.created``/``unchanged`` count orders; ``rows`` counts rows."""
    now = now or datetime.now(UTC)
    report = ImportReport()
    async with bulk_load(scope, _FILLS) as load:

        def read(batch: list[list[CsvRow]]) -> tuple[Prepared, Cleaned]:
            inputs: list[OrderInput] = []
            groups: list[list[CsvRow]] = []
            refused: list[tuple[list[CsvRow], DomainError]] = []
            for group in batch:
                try:
                    inputs.append(_order(scope, group))
                    groups.append(group)
                except DomainError as error:
                    refused.append((group, error))
            # Here, in the thread, what recognising a recorded order compares.
            return (inputs, groups, refused), _cleaned(scope, inputs, now)

        size = min(batch_size, MAX_BATCH)
        async for batch, prepared in prepared_batches(_groups(rows), size, read):
            (inputs, groups, refused), cleaned = prepared
            report.rows += sum(len(group) for group in batch)
            for group, error in refused:
                _reject(report, rejects, group, reason_of(error))
            known = await _already_recorded(scope, inputs, cleaned)
            fresh = [i for i, order in enumerate(inputs) if order.external_id not in known]
            report.unchanged += len(inputs) - len(fresh)
            groups = [groups[i] for i in fresh]
            inputs = [inputs[i] for i in fresh]
            outcomes = (
                await record_orders(
                    scope, inputs, now=now, cleaned=[cleaned.get(id(o)) for o in inputs]
                )
                if inputs
                else []
            )
            for group, outcome in zip(groups, outcomes, strict=True):
                if isinstance(outcome, DomainError):
                    _reject(report, rejects, group, _reason(outcome, group))
                elif outcome.replayed:
                    report.unchanged += 1
                else:
                    report.created += 1
            if inputs:  # orders went in (a re-import's batches fill nothing)
                await load.wrote_batch()
            rejects.flush()
            if progress is not None:
                progress(report.rows)
    return report


def _cleaned(scope: BrandScope, orders: list[OrderInput], now: datetime) -> Cleaned:
    found: Cleaned = {}
    for order in orders:
        try:
            found[id(order)] = clean_order(order, scope.brand.currency, now, [])
        except DomainError:
            found[id(order)] = None
    return found


async def _already_recorded(
    scope: BrandScope, orders: list[OrderInput], cleaned: Cleaned
) -> set[str]:
    """External ids of ``orders`` recorded before with the same details and
    member: the whole batch in two queries (the orders, their members'
    identities), where handing them to ``record_orders`` would look each
    member up again. Orders that differ are left to it to refuse
    (``IDEMPOTENCY_CONFLICT``)."""
    if not orders:
        return set()
    recorded = await _recorded(scope, {o.external_id for o in orders})
    if not recorded:
        return set()
    region = scope.brand.default_region
    same: dict[str, tuple[str, str]] = {}  # external id -> its member's identity
    normalised: dict[tuple[str, str], tuple[str, str] | None] = {}
    for order in orders:
        before = recorded.get(order.external_id)
        if before is None or order.member.identity is None:
            continue
        clean = cleaned.get(id(order))
        if clean is None or clean.fingerprint != before[0]:
            continue
        key = order.member.identity
        if key not in normalised:
            normalised[key] = _identity(key, region)
        identity = normalised[key]
        if identity is not None:
            same[order.external_id] = identity
    if not same:
        return set()
    owners = await identity_owners(scope, same.values())
    return {
        external_id
        for external_id, identity in same.items()
        if owners.get(identity) == recorded[external_id][1]
    }


async def _recorded(scope: BrandScope, external_ids: set[str]) -> dict[str, tuple[str, int]]:
    """External id -> (fingerprint, member id) of the orders recorded before:
    one query, one index probe per id (the ORM builds an ``IN`` list of a
    thousand values slower than the database answers it)."""
    rows = await scope.rows_by_key(
        connections.get("default"),
        _ORDER_TABLE,
        "external_id",
        external_ids,
        "external_id, fingerprint, member_id",
    )
    return {r["external_id"]: (r["fingerprint"], int(r["member_id"])) for r in rows}


def _identity(ref: tuple[str, str], region: str) -> tuple[str, str] | None:
    """A member reference as stored (``None``: one that cannot be valid)."""
    try:
        kind = IdentityKind(ref[0].lower())
        return kind.value, normalise(kind, ref[1], region, [])
    except (ValueError, DomainError):
        return None


def _reject(report: ImportReport, rejects: RejectsFile, group: list[CsvRow], reason: str) -> None:
    report.rejected += len(group)
    for row in group:
        rejects.add(row.line, reason, row.values)


def _reason(error: DomainError, group: list[CsvRow]) -> str:
    """The service's reasons with its paths (``orders.3.lines.1.quantity``) told
    as the file's columns and lines (``line 12: quantity``)."""
    parts = []
    for e in error.errors if isinstance(error, DomainErrors) else [error]:
        field = list(e.field or [])[2:]  # drop "orders", index
        if field[:1] == ["lines"] and len(field) > 1 and field[1].isdigit():
            where = f"line {group[int(field[1])].line}: {column_name(field[2:]) or 'line'}"
        elif field[:1] in (["memberId"], ["identity"]):
            where = "member"
        else:
            where = column_name(field)
        parts.append(f"{where}: {e.message}" if where else e.message)
    return "; ".join(parts)


def _order(scope: BrandScope, group: list[CsvRow]) -> OrderInput:
    first = group[0].values
    errors: list[DomainError] = []
    # The order's columns as its first row has them, each stripped once: the
    # other rows are compared with these (the first one needs no comparing),
    # cell by cell only when their cells are not simply the same.
    first_cells = list(map(first.get, ORDER_COLUMNS))
    order_values = {
        column: cell.strip() if cell else ""
        for column, cell in zip(ORDER_COLUMNS, first_cells, strict=True)
    }
    for n, row in enumerate(group):
        if row.extra_cells > 0:
            errors.append(DomainError("INVALID", f"line {row.line} has more cells than the header"))
        if n == 0 or list(map(row.values.get, ORDER_COLUMNS)) == first_cells:
            continue
        for column in ORDER_COLUMNS:
            if row.values.get(column, "").strip() != order_values[column]:
                errors.append(
                    DomainError(
                        "INVALID",
                        f"differs from the order's first row (line {group[0].line}) on "
                        f"line {row.line}",
                        [column],
                    )
                )
    currency = order_values["currency"].upper() or scope.brand.currency

    def money(text: str, column: str) -> MoneyAmount | None:
        if not text.strip():
            return None
        try:
            return MoneyAmount(parse_amount(text, [column]), currency)
        except DomainError as error:
            errors.append(error)
            return None

    members = [
        (kind, order_values[column]) for column, kind in MEMBER_KINDS if order_values[column]
    ]
    if len(members) != 1:
        errors.append(
            DomainError("INVALID", "give exactly one member_* column per order", ["member"])
        )
    for column in REQUIRED:
        if not order_values[column]:
            errors.append(DomainError("REQUIRED", "must not be empty", [column]))
    occurred_at = None
    if order_values["occurred_at"]:
        try:
            occurred_at = cell_time(first["occurred_at"], "occurred_at", scope.brand.timezone)
        except DomainError as error:
            errors.append(error)
    paid = money(first.get("amount_paid", ""), "amount_paid")
    lines = []
    for row in group:
        values = row.values
        if not values.get("sku", "").strip():
            if len(group) > 1 or any(values.get(c, "").strip() for c in LINE_COLUMNS):
                errors.append(DomainError("REQUIRED", f"line {row.line}: sku is empty", ["sku"]))
            continue
        quantity = 0
        try:
            quantity = cell_int(values.get("quantity", "") or "1", "quantity")
        except DomainError as error:
            errors.append(
                DomainError(error.code, f"line {row.line}: {error.message}", ["quantity"])
            )
        unit = money(values.get("unit_price", ""), "unit_price")
        if unit is None and not values.get("unit_price", "").strip():
            errors.append(
                DomainError("REQUIRED", f"line {row.line}: must not be empty", ["unit_price"])
            )
        lines.append(
            LineInput(
                sku=values["sku"],
                quantity=quantity,
                unit_price=unit or MoneyAmount(Decimal(0), currency),
                name=values.get("name", ""),
                category=values.get("category", "").strip() or None,
                retail_price=money(values.get("retail_price", ""), "retail_price"),
            )
        )
    retail = money(first.get("retail_amount", ""), "retail_amount")
    discount = money(first.get("discount", ""), "discount")
    if errors or occurred_at is None or paid is None:
        raise DomainErrors(errors or [DomainError("INVALID", "the order cannot be read")])
    kind, value = members[0]
    return OrderInput(
        external_id=order_values["external_id"],
        member=MemberRef(identity_kind=kind, identity_value=value),
        occurred_at=occurred_at,
        amount_paid=paid,
        lines=lines,
        retail_amount=retail,
        discount=discount,
        coupon_codes=cell_list(first.get("coupon_codes", "")),
        store_code=order_values["store_code"] or None,
        channel=order_values["channel"] or None,
        # Another system's coupons: their codes are history, not Tessera coupons.
        redeem_coupons=False,
    )
