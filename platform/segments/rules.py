"""The segment rule language: a JSON document describing which members belong
to a segment (docs/segments.md explains it with examples).

A rule is a condition, or ``all`` / ``any`` / ``not`` of conditions. Each
condition names what it tests with ``"type"``. :func:`parse_rule` checks a
rule completely before any SQL runs and reports every problem with its path
inside the rule, in words an operator understands. The JSON Schema of the
language is :meth:`Rule.model_json_schema`.

What a rule refers to in the brand's data (tag codes, custom attribute keys
and their types, amounts in the brand's currency) is checked when the rule is
compiled for a brand (:mod:`tessera.segments.compiler`).
"""

from __future__ import annotations

from collections.abc import Iterator
from datetime import date, datetime
from decimal import Decimal
from enum import StrEnum
from typing import Annotated, Any, ClassVar, Literal

from pydantic import (
    BaseModel,
    ConfigDict,
    Discriminator,
    Field,
    RootModel,
    StrictBool,
    StrictFloat,
    StrictInt,
    StrictStr,
    Tag,
    ValidationError,
    model_validator,
)
from pydantic.alias_generators import to_camel

from tessera.errors import DomainError, DomainErrors
from tessera.members.profile import Gender, MemberStatus
from tessera.segments.timewindows import MAX_DAYS, Bounds, Period, day_bounds, last_days_start
from tessera.segments.timewindows import local_today as _local_today

MAX_CONDITIONS = 100
MAX_DEPTH = 8
MAX_LIST = 200

Text = Annotated[StrictStr, Field(min_length=1, max_length=200)]
Code = Annotated[StrictStr, Field(min_length=1, max_length=64)]
Money = Annotated[Decimal, Field(ge=0, allow_inf_nan=False, description="In the brand's currency")]


class FieldProblem(ValueError):
    """A problem found by a model-level check, pinned to one of its fields."""

    def __init__(self, field: str, message: str) -> None:
        super().__init__(message)
        self.field = field
        self.message = message


class _Part(BaseModel):
    model_config = ConfigDict(
        extra="forbid", alias_generator=to_camel, populate_by_name=True, frozen=True
    )


# --- windows and ranges ------------------------------------------------------


class Window(_Part):
    """When something happened, on the brand's local calendar. Exactly one of:
    ``lastDays`` (today and the N-1 days before it), ``olderThanDays`` (before
    those N days), ``period`` (a calendar period), or ``from`` / ``to`` (whole
    local days, both included; either may be left out)."""

    last_days: int | None = Field(
        None, ge=1, le=MAX_DAYS, description="Today and the N-1 days before."
    )
    older_than_days: int | None = Field(
        None, ge=1, le=MAX_DAYS, description="Before the last N days began."
    )
    period: Period | None = Field(None, description="A calendar period; weeks start on Monday.")
    from_: date | None = Field(None, alias="from", description="First local day, included.")
    to: date | None = Field(None, description="Last local day, included.")

    @model_validator(mode="after")
    def _one_form(self) -> Window:
        forms = [
            self.last_days is not None,
            self.older_than_days is not None,
            self.period is not None,
            self.from_ is not None or self.to is not None,
        ]
        if sum(forms) != 1:
            raise ValueError("give exactly one of lastDays, olderThanDays, period, or from/to")
        if self.from_ and self.to and self.from_ > self.to:
            raise FieldProblem("to", "the window ends before it starts")
        return self

    def bounds(self, now: datetime, timezone: str) -> Bounds:
        """``[start, end)`` in UTC for a brand in ``timezone`` at ``now``."""
        from datetime import timedelta

        from tessera.segments.timewindows import period_days

        today = _local_today(now, timezone)
        if self.last_days is not None:
            return day_bounds(last_days_start(self.last_days, today), None, timezone)
        if self.older_than_days is not None:
            return day_bounds(None, last_days_start(self.older_than_days, today), timezone)
        if self.period is not None:
            return day_bounds(*period_days(self.period, today), timezone)
        after_last = self.to + timedelta(days=1) if self.to else None
        return day_bounds(self.from_, after_last, timezone)

    @property
    def relative(self) -> bool:
        return self.from_ is None and self.to is None


def _check_range(low: Any, high: Any) -> None:
    if low is None and high is None:
        raise ValueError("give min, max or both")
    if low is not None and high is not None and low > high:
        raise FieldProblem("max", "max is smaller than min")


class _Range(_Part):
    @model_validator(mode="after")
    def _ordered(self) -> Any:
        _check_range(getattr(self, "min"), getattr(self, "max"))  # noqa: B009
        return self


class CountRange(_Range):
    """A number of times, both ends included."""

    min: int | None = Field(None, ge=0, le=1_000_000)
    max: int | None = Field(None, ge=0, le=1_000_000)


class MoneyRange(_Range):
    """An amount in the brand's currency (e.g. ``199.90``), both ends included."""

    min: Money | None = None
    max: Money | None = None


class ScoreRange(_Range):
    """An RFM score from 1 (lowest) to 5 (highest), both ends included."""

    min: int | None = Field(None, ge=1, le=5)
    max: int | None = Field(None, ge=1, le=5)


# --- conditions --------------------------------------------------------------


class ProfileField(StrEnum):
    GENDER = "gender"
    STATUS = "status"
    JOIN_CHANNEL = "joinChannel"
    JOIN_SOURCE = "joinSource"
    PROVINCE = "province"
    CITY = "city"
    EDUCATION = "education"
    OCCUPATION = "occupation"
    INCOME_RANGE = "incomeRange"

    @property
    def column(self) -> str:
        return "".join("_" + c.lower() if c.isupper() else c for c in self.value)


class ProfileCondition(_Part):
    """A profile field is one of the given values (exact, case-sensitive)."""

    type: Literal["profile"]
    field: ProfileField
    in_: list[Annotated[StrictStr, Field(max_length=200)]] = Field(
        alias="in", min_length=1, max_length=MAX_LIST, description='"" matches an empty field.'
    )

    @model_validator(mode="after")
    def _known_values(self) -> ProfileCondition:
        allowed: dict[ProfileField, list[str]] = {
            ProfileField.GENDER: [g.value for g in Gender],
            ProfileField.STATUS: [s.value for s in MemberStatus],
        }
        values = allowed.get(self.field)
        if values is not None:
            for value in self.in_:
                if value not in values:
                    raise FieldProblem(
                        "in", f"{self.field.value} is one of {', '.join(values)}, not {value!r}"
                    )
        return self


class BirthdayCondition(_Part):
    """The birthday falls in the current month, within the next N days (today
    included), or in one of the given months. 29 February is celebrated on
    1 March in other years. Members without a birthday never match."""

    type: Literal["birthday"]
    this_month: Literal[True] | None = None
    next_days: int | None = Field(None, ge=0, le=365, description="0 means today")
    months: list[Annotated[int, Field(ge=1, le=12)]] | None = Field(None, min_length=1)

    @model_validator(mode="after")
    def _one_form(self) -> BirthdayCondition:
        given = [self.this_month is not None, self.next_days is not None, self.months is not None]
        if sum(given) != 1:
            raise ValueError("give exactly one of thisMonth, nextDays or months")
        return self


class AgeCondition(_Part):
    """Age in whole years today (brand's calendar), both ends included.
    Members without a birthday never match."""

    type: Literal["age"]
    min: int | None = Field(None, ge=0, le=150)
    max: int | None = Field(None, ge=0, le=150)

    @model_validator(mode="after")
    def _ordered(self) -> AgeCondition:
        _check_range(self.min, self.max)
        return self


class JoinedCondition(_Part):
    """The member joined within the window."""

    type: Literal["joined"]
    within: Window


Scalar = StrictBool | StrictInt | StrictFloat | Annotated[StrictStr, Field(max_length=1000)]
Bound = StrictInt | StrictFloat | Annotated[StrictStr, Field(max_length=10)]
ValueKind = Literal["boolean", "number", "text"]


def value_kind(value: Any) -> ValueKind:
    if isinstance(value, bool):
        return "boolean"
    return "number" if isinstance(value, int | float) else "text"


def is_iso_date(text: str) -> bool:
    try:
        return len(text) == 10 and date.fromisoformat(text).isoformat() == text
    except ValueError:
        return False


class AttributeCondition(_Part):
    """A custom attribute equals a value, is one of values, or (numbers and
    dates as ``YYYY-MM-DD``) lies between ``min`` and ``max``, both included.
    Text is compared exactly (case-sensitive). Members without the attribute,
    or with a value of another type, never match."""

    type: Literal["attribute"]
    key: Annotated[StrictStr, Field(pattern=r"^[a-z][a-z0-9_]{0,63}$")]
    equals: Scalar | None = None
    in_: list[Scalar] | None = Field(None, alias="in", min_length=1, max_length=MAX_LIST)
    min: Bound | None = None
    max: Bound | None = None

    @model_validator(mode="after")
    def _one_form(self) -> AttributeCondition:
        forms = [
            self.equals is not None,
            self.in_ is not None,
            self.min is not None or self.max is not None,
        ]
        if sum(forms) != 1:
            raise ValueError("give exactly one of equals, in, or min/max")
        if self.in_ is not None and len({value_kind(v) for v in self.in_}) > 1:
            raise FieldProblem("in", "the values must all be of one type")
        bounds = {name: getattr(self, name) for name in ("min", "max")}
        for name, bound in bounds.items():
            if isinstance(bound, str) and not is_iso_date(bound):
                raise FieldProblem(name, "a range is of numbers or of dates like 2024-12-31")
        low, high = bounds["min"], bounds["max"]
        if low is not None and high is not None:
            if value_kind(low) != value_kind(high):
                raise FieldProblem("max", "min and max must be of one type")
            if low > high:
                raise FieldProblem("max", "max is smaller than min")
        return self

    @property
    def values(self) -> list[Any]:
        if self.equals is not None:
            return [self.equals]
        if self.in_ is not None:
            return list(self.in_)
        return [v for v in (self.min, self.max) if v is not None]

    @property
    def value_kind(self) -> ValueKind:
        return value_kind(self.values[0])

    @property
    def is_range(self) -> bool:
        return self.min is not None or self.max is not None


class TagMatch(StrEnum):
    ANY = "any"
    ALL = "all"
    NONE = "none"


class TagsCondition(_Part):
    """The member has any / all / none of the tags (by code), counting only
    assignments that have not expired and, with ``assignedWithin``, that were
    made within that window."""

    type: Literal["tags"]
    has: TagMatch
    codes: list[Code] = Field(min_length=1, max_length=50)
    assigned_within: Window | None = None


class Metric(StrEnum):
    TOTAL_SPENT = "totalSpent"
    ORDERS_COUNT = "ordersCount"
    AVERAGE_ORDER_VALUE = "averageOrderValue"
    SPENT_LAST_365_DAYS = "spentLast365Days"

    @property
    def is_money(self) -> bool:
        return self is not Metric.ORDERS_COUNT


class StatsCondition(_Part):
    """A purchase figure lies between ``min`` and ``max`` (both included).
    Money is net of refunds, in the brand's currency; members who never
    ordered have zero of everything."""

    type: Literal["stats"]
    metric: Metric
    min: Money | None = None
    max: Money | None = None

    @model_validator(mode="after")
    def _checked(self) -> StatsCondition:
        _check_range(self.min, self.max)
        if self.metric is Metric.ORDERS_COUNT:
            for name in ("min", "max"):
                value = getattr(self, name)
                if value is not None and value != value.to_integral_value():
                    raise FieldProblem(name, "a number of orders is a whole number")
        return self


class FirstOrderCondition(_Part):
    """The member's first order was placed within the window."""

    type: Literal["firstOrder"]
    within: Window


class LastOrderCondition(_Part):
    """The member's most recent order was placed within the window."""

    type: Literal["lastOrder"]
    within: Window


class OrdersCondition(_Part):
    """The member's orders within the window (all time without one), counting
    only orders with a line of the given SKUs or categories when given, have
    a count and/or amount in range. Without ``count`` and ``amount``: at
    least one order. With SKUs or categories the amount is what was paid for
    the matching lines; refunds reduce amounts, not counts."""

    type: Literal["orders"]
    within: Window | None = None
    skus: list[Code] | None = Field(None, min_length=1, max_length=MAX_LIST)
    categories: list[Text] | None = Field(None, min_length=1, max_length=MAX_LIST)
    count: CountRange | None = None
    amount: MoneyRange | None = None


class EventsCondition(_Part):
    """The member did ``event`` (a behaviour event type) a number of times
    within the window (all time without one); without ``count``: at least
    once. "Did not" is ``count: {"max": 0}``."""

    type: Literal["events"]
    event: Code
    within: Window | None = None
    count: CountRange | None = None


class LifecycleStage(StrEnum):
    NEW = "new"
    ACTIVE = "active"
    SILENT = "silent"
    SLEEPING = "sleeping"
    ABOUT_TO_CHURN = "about_to_churn"
    CHURNED = "churned"


class LifecycleCondition(_Part):
    """The member's lifecycle stage (as last computed) is one of these."""

    type: Literal["lifecycle"]
    in_: list[LifecycleStage] = Field(alias="in", min_length=1)


class RfmCondition(_Part):
    """The member's RFM scores (as last computed) are in range; members
    without scores never match."""

    type: Literal["rfm"]
    recency: ScoreRange | None = None
    frequency: ScoreRange | None = None
    monetary: ScoreRange | None = None

    @model_validator(mode="after")
    def _some(self) -> RfmCondition:
        if self.recency is None and self.frequency is None and self.monetary is None:
            raise ValueError("give recency, frequency, monetary or several")
        return self


class SegmentCondition(_Part):
    """The member is in another segment, as stored at its last refresh."""

    type: Literal["segment"]
    segment: int = Field(ge=1, description="The segment's id.")


class TierCondition(_Part):
    """The member holds one of the tiers (by code), or a tier ranked at least as
    high as ``atLeast``. Members without a tier never match."""

    type: Literal["tier"]
    in_: list[Code] | None = Field(None, alias="in", min_length=1, max_length=50)
    at_least: Code | None = None

    @model_validator(mode="after")
    def _one_form(self) -> TierCondition:
        if (self.in_ is None) == (self.at_least is None):
            raise ValueError("give exactly one of in or atLeast")
        return self


class PointsCondition(_Part):
    """The member's available points balance lies between ``min`` and ``max``
    (both included); members without a points account have 0."""

    type: Literal["points"]
    min: int | None = Field(None, ge=0, le=10**15)
    max: int | None = Field(None, ge=0, le=10**15)

    @model_validator(mode="after")
    def _ordered(self) -> PointsCondition:
        _check_range(self.min, self.max)
        return self


class CouponsCondition(_Part):
    """The member holds a number of unused coupons (available and not expired);
    without ``count``: at least one."""

    type: Literal["coupons"]
    count: CountRange | None = None


class ClusterCondition(_Part):
    """The member is in one of these clusters of the brand's last automatic
    clustering run (k-means over RFM and category preference, docs/slots.md);
    members without orders are in none."""

    type: Literal["cluster"]
    in_: list[Annotated[int, Field(ge=0, le=99)]] = Field(alias="in", min_length=1, max_length=50)


class All(_Part):
    """Every condition holds."""

    tag: ClassVar[str] = "all"
    all: list[Condition] = Field(min_length=1, max_length=MAX_CONDITIONS)


class Any_(_Part):
    """At least one condition holds."""

    tag: ClassVar[str] = "any"
    any: list[Condition] = Field(min_length=1, max_length=MAX_CONDITIONS)


class Not(_Part):
    """The condition does not hold."""

    tag: ClassVar[str] = "not"
    not_: Condition = Field(alias="not")


LEAVES: dict[str, type[_Part]] = {
    "profile": ProfileCondition,
    "birthday": BirthdayCondition,
    "age": AgeCondition,
    "joined": JoinedCondition,
    "attribute": AttributeCondition,
    "tags": TagsCondition,
    "stats": StatsCondition,
    "firstOrder": FirstOrderCondition,
    "lastOrder": LastOrderCondition,
    "orders": OrdersCondition,
    "events": EventsCondition,
    "lifecycle": LifecycleCondition,
    "rfm": RfmCondition,
    "segment": SegmentCondition,
    "tier": TierCondition,
    "points": PointsCondition,
    "coupons": CouponsCondition,
    "cluster": ClusterCondition,
}
GROUPS = ("all", "any", "not")


def _kind(value: Any) -> str | None:
    if isinstance(value, dict):
        for group in GROUPS:
            if group in value:
                return group
        kind = value.get("type")
        return kind if isinstance(kind, str) else None
    if isinstance(value, All | Any_ | Not):
        return value.tag
    return getattr(value, "type", None)


Condition = Annotated[
    Annotated[All, Tag("all")]
    | Annotated[Any_, Tag("any")]
    | Annotated[Not, Tag("not")]
    | Annotated[ProfileCondition, Tag("profile")]
    | Annotated[BirthdayCondition, Tag("birthday")]
    | Annotated[AgeCondition, Tag("age")]
    | Annotated[JoinedCondition, Tag("joined")]
    | Annotated[AttributeCondition, Tag("attribute")]
    | Annotated[TagsCondition, Tag("tags")]
    | Annotated[StatsCondition, Tag("stats")]
    | Annotated[FirstOrderCondition, Tag("firstOrder")]
    | Annotated[LastOrderCondition, Tag("lastOrder")]
    | Annotated[OrdersCondition, Tag("orders")]
    | Annotated[EventsCondition, Tag("events")]
    | Annotated[LifecycleCondition, Tag("lifecycle")]
    | Annotated[RfmCondition, Tag("rfm")]
    | Annotated[SegmentCondition, Tag("segment")]
    | Annotated[TierCondition, Tag("tier")]
    | Annotated[PointsCondition, Tag("points")]
    | Annotated[CouponsCondition, Tag("coupons")]
    | Annotated[ClusterCondition, Tag("cluster")],
    Discriminator(
        _kind,
        custom_error_type="unknown_condition",
        custom_error_message="unknown condition",
    ),
]

All.model_rebuild()
Any_.model_rebuild()
Not.model_rebuild()


class Rule(RootModel[Condition]):
    """A segment rule: one condition, or all / any / not of conditions."""

    model_config = ConfigDict(
        frozen=True,
        json_schema_extra={
            "title": "Segment rule",
            "description": "Which members belong to a segment. See docs/segments.md.",
        },
    )

    def to_json(self) -> dict[str, Any]:
        data: dict[str, Any] = self.model_dump(mode="json", by_alias=True, exclude_none=True)
        return data


# --- parsing with paths ------------------------------------------------------


def parse_rule(data: Any, field: list[str] | None = None) -> Rule:
    """The rule in ``data``, or :class:`DomainErrors` naming every problem by
    its path (starting with ``field``, ``["rule"]`` by default)."""
    base = ["rule"] if field is None else field
    try:
        rule = Rule.model_validate(data)
    except ValidationError as exc:
        raise DomainErrors([_problem(error, data, base) for error in exc.errors()]) from None
    _check_size(rule, base)
    return rule


def _check_size(rule: Rule, base: list[str]) -> None:
    for count, (path, _condition, depth) in enumerate(walk(rule, base), start=1):
        if depth > MAX_DEPTH:
            message = f"conditions nest at most {MAX_DEPTH} levels deep"
            raise DomainErrors([DomainError("TOO_DEEP", message, path)])
        if count > MAX_CONDITIONS:
            message = f"a rule has at most {MAX_CONDITIONS} conditions"
            raise DomainErrors([DomainError("TOO_MANY", message, path)])


def walk(rule: Rule | Any, base: list[str]) -> Iterator[tuple[list[str], Any, int]]:
    """Every condition of the rule (groups too) with its path and depth."""
    stack: list[tuple[list[str], Any, int]] = [
        (base, rule.root if isinstance(rule, Rule) else rule, 1)
    ]
    while stack:
        path, node, depth = stack.pop()
        yield path, node, depth
        if isinstance(node, All | Any_):
            items = node.all if isinstance(node, All) else node.any
            key = node.tag
            stack.extend((([*path, key, str(i)]), item, depth + 1) for i, item in enumerate(items))
        elif isinstance(node, Not):
            stack.append(([*path, "not"], node.not_, depth + 1))


def referenced_segments(rule: Rule) -> set[int]:
    """Ids of the segments the rule reads (for cycle detection)."""
    return {node.segment for _, node, _ in walk(rule, []) if isinstance(node, SegmentCondition)}


def reads_clock(rule: Rule) -> bool:
    """Whether the rule's result can change with time alone (relative windows,
    birthdays, ages, tag and coupon expiry, 365-day spend), so it needs
    scheduled refresh."""
    for _, node, _ in walk(rule, []):
        if isinstance(node, BirthdayCondition | AgeCondition | TagsCondition | CouponsCondition):
            return True
        if isinstance(node, StatsCondition) and node.metric is Metric.SPENT_LAST_365_DAYS:
            return True
        for name in ("within", "assigned_within"):
            window = getattr(node, name, None)
            if isinstance(window, Window) and window.relative:
                return True
    return False


_MESSAGES = {
    "extra_forbidden": "{name} is not a setting of this condition",
    "missing": "{name} is required",
    "int_type": "must be a whole number",
    "int_parsing": "must be a whole number",
    "int_from_float": "must be a whole number",
    "bool_type": "must be true or false",
    "string_type": "must be text",
    "list_type": "must be a list",
    "model_type": "must be an object",
    "model_attributes_type": "must be an object",
    "dict_type": "must be an object",
    "decimal_parsing": "must be a number",
    "decimal_type": "must be a number",
    "finite_number": "must be a number",
    "date_parsing": "must be a date like 2024-12-31",
    "date_from_datetime_parsing": "must be a date like 2024-12-31",
    "date_type": "must be a date like 2024-12-31",
    "greater_than_equal": "must be at least {ge}",
    "less_than_equal": "must be at most {le}",
    "too_short": "needs at least {min_length}",
    "too_long": "has more than {max_length}",
    "string_too_short": "must not be empty",
    "string_too_long": "must be at most {max_length} characters",
    "string_pattern_mismatch": "must be lower-case letters, digits or '_', starting with a letter",
    "unknown_condition": (
        'unknown condition: give "all", "any", "not" or a "type" of ' + ", ".join(LEAVES)
    ),
}


def _problem(error: Any, data: Any, base: list[str]) -> DomainError:
    path = _input_path(error["loc"], data)
    kind = error["type"]
    ctx = error.get("ctx") or {}
    original = ctx.get("error")
    if isinstance(original, FieldProblem):
        return DomainError("INVALID", original.message, [*base, *path, original.field])
    if kind == "value_error" and original is not None:
        return DomainError("INVALID", str(original), [*base, *path])
    if kind in ("literal_error", "enum"):
        return DomainError("INVALID", f"must be one of {ctx.get('expected')}", [*base, *path])
    if kind in ("union_tag_invalid", "union_tag_not_found", "unknown_condition"):
        kind = "unknown_condition"
    template = _MESSAGES.get(kind)
    name = path[-1] if path else "rule"
    message = template.format(name=name, **ctx) if template else error["msg"]
    return DomainError("INVALID", message, [*base, *path])


def _input_path(loc: tuple[Any, ...], data: Any) -> list[str]:
    """The path in the input: pydantic's location without the union tags it
    inserts where a condition is expected."""
    path: list[str] = []
    node, at_union = data, True
    items = list(loc)
    while items:
        head = items.pop(0)
        if at_union and isinstance(head, str) and head == _kind(node):
            # The tag comes first, even where it is also the key ("all", "segment").
            at_union = False
            continue
        path.append(str(head))
        at_union = False
        if isinstance(node, dict):
            node = node.get(head)
            at_union = head == "not"
        elif isinstance(node, list) and isinstance(head, int) and head < len(node):
            node = node[head]
            at_union = len(path) >= 2 and path[-2] in ("all", "any")
        else:
            node = None
    return path
