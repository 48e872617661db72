"""Base classes of the five component families a plugin can contribute.

A component is a class with a stable ``key``, a ``title``, a ``description``
and a pydantic ``Config`` model. The admin UI renders a form from
``Config.model_json_schema()`` and the API validates against it. Fields typed
``pydantic.SecretStr`` are secrets: write-only through the API and encrypted
at rest.
"""

from __future__ import annotations

from abc import ABC, abstractmethod
from collections.abc import Awaitable, Callable, Iterable, Mapping, Sequence
from dataclasses import dataclass, field
from datetime import date, datetime
from decimal import Decimal
from enum import StrEnum
from typing import Any, ClassVar

from pydantic import BaseModel, ConfigDict, SecretStr

from tessera.plugin_host.context import BrandInfo
from tessera.reports.api import FILTERS, ReportContext, ReportParams, ReportResult


class ComponentFamily(StrEnum):
    TIER_POLICY = "tier_policy"
    POINTS_RULE = "points_rule"
    CHANNEL_SENDER = "channel_sender"
    SLOT_KIND = "slot_kind"
    REPORT_TYPE = "report_type"


class NoConfig(BaseModel):
    """A component with nothing to configure."""

    model_config = ConfigDict(extra="forbid")


class Component:
    """What every component has. Subclass one of the family classes below."""

    family: ClassVar[ComponentFamily]
    key: ClassVar[str]
    title: ClassVar[str]
    description: ClassVar[str] = ""
    Config: ClassVar[type[BaseModel]] = NoConfig

    def __init__(self, config: BaseModel) -> None:
        self.config = config

    @classmethod
    def secret_fields(cls) -> frozenset[str]:
        """Names of the config fields that are write-only and encrypted."""
        return frozenset(
            name for name, info in cls.Config.model_fields.items() if _is_secret(info.annotation)
        )

    @classmethod
    def config_schema(cls) -> dict[str, Any]:
        return cls.Config.model_json_schema()


def _is_secret(annotation: Any) -> bool:
    if annotation is SecretStr:
        return True
    return SecretStr in getattr(annotation, "__args__", ())


class TierPolicy(Component, ABC):
    """Decides which tier a member belongs in. Exactly one is active per brand.

    Tessera asks it at two moments, and applies the answer by its own rules
    (docs/loyalty.md): on every fact (an order, a check-in...) through
    :meth:`evaluate`, where only an *upgrade* takes effect at once; and when a
    member's tier reaches its evaluation point (validity end) through
    :meth:`review`, where the answer may also be a lower tier. A policy that
    works with growth value says how much each fact earns in :meth:`growth_for`.
    """

    family = ComponentFamily.TIER_POLICY

    @abstractmethod
    async def evaluate(self, member: TierStanding, tiers: Sequence[TierInfo]) -> TierGrant | None:
        """The tier ``member`` qualifies for now, or None for "no opinion, keep it".

        ``tiers`` are the brand's tier definitions, lowest rank first;
        ``member.fact`` is the fact being recorded (None during a review).
        Called with the fact already counted: ``await member.spent(since)``
        includes the order being recorded and ``member.growth`` the growth it
        earns.

        Example::

            async def evaluate(self, member, tiers):
                spent = await member.spent(member.now - timedelta(days=365))
                eligible = [t for t in tiers if spent >= member.minor(self.config.limits[t.code])]
                return TierGrant(eligible[-1].code) if eligible else None
        """

    async def review(self, member: TierStanding, tiers: Sequence[TierInfo]) -> TierGrant | None:
        """At the member's evaluation point: the tier to hold for the next
        period (lower than the current one is a downgrade). Defaults to
        :meth:`evaluate`, i.e. "keep what you qualify for today"."""
        return await self.evaluate(member, tiers)

    async def progress(self, member: TierStanding, target: TierInfo) -> TierProgress | None:
        """How far ``member`` is from ``target`` (the next tier up) in the
        policy's own measure, for the member's card; None when it has none.

        Example::

            async def progress(self, member, target):
                need = self.config.thresholds.get(target.code)
                return TierProgress("growth", member.growth, need) if need else None
        """
        return None

    async def growth_for(self, fact: PointsFact) -> int:
        """Growth value the fact earns (0 unless the policy uses growth).

        Example::

            async def growth_for(self, fact):
                return fact.order.amount_paid // 100 if fact.order else 0
        """
        return 0


class PointsRule(Component, ABC):
    """Awards points for a fact (an order, a check-in, ...). Any number may be active.

    Rules run in ``stage`` order (then by key) and each sees what the earlier
    ones awarded for the same fact in ``fact.so_far``: base rules (stage 100)
    award, modifiers (stage 200, e.g. a double-points campaign) add to them.
    Every award is recorded with the rule's key.
    """

    family = ComponentFamily.POINTS_RULE
    stage: ClassVar[int] = 100

    @abstractmethod
    async def points_for(self, fact: PointsFact) -> int | Sequence[Award]:
        """What this rule awards for ``fact``: a number of points (0 for none)
        for the fact's member, or :class:`Award` items (several reasons, or
        another member, e.g. a referrer). Raise only when something is broken:
        the whole fact (the order) is then rolled back and reported.

        Example::

            async def points_for(self, fact):
                if fact.order is None:
                    return 0
                return fact.order.amount_paid // fact.minor(Decimal(1))
        """

    def redemption_terms(self) -> RedemptionTerms | None:
        """Terms for paying part of an order with points, if this rule sets them."""
        return None


@dataclass(frozen=True)
class TierInfo:
    """A tier definition as policies see it."""

    code: str
    name: str
    rank: int
    validity_months: int | None


@dataclass(frozen=True)
class MemberFacts:
    """The member a fact belongs to, as it stood before the fact."""

    id: int
    joined_at: datetime
    birthday: date | None
    tags: frozenset[str]
    tier: TierInfo | None
    tier_since: datetime | None = None
    tier_expires_at: datetime | None = None
    lapsed_tier: str | None = None
    """The tier lost at the last review when no upgrade has happened since
    (what a reactivation on purchase restores)."""


@dataclass(frozen=True)
class OrderLineFacts:
    sku: str
    category: str | None
    quantity: int
    paid_amount: int


@dataclass(frozen=True)
class OrderFacts:
    """An order, recorded or only previewed (then ``order_id`` is None).
    Money is integer minor units of the brand's currency."""

    external_id: str
    occurred_at: datetime
    amount_paid: int
    lines: tuple[OrderLineFacts, ...] = ()
    order_id: int | None = None

    def paid_in(self, categories: Iterable[str] | None, *, exclude: bool = False) -> int:
        """Paid amount of the lines in ``categories`` (or not in them, with
        ``exclude``); an order without lines counts as one uncategorised line."""
        wanted = set(categories or ())
        if not self.lines:
            return self.amount_paid if exclude or not wanted else 0
        return sum(line.paid_amount for line in self.lines if (line.category in wanted) != exclude)


@dataclass(frozen=True)
class RuleAward:
    """An award already made for the fact, with the key of its rule."""

    rule: str
    points: int
    reason: str
    member_id: int


@dataclass(frozen=True)
class Award:
    """Points a rule awards; ``member_id`` None means the fact's member."""

    points: int
    reason: str
    member_id: int | None = None


@dataclass(frozen=True)
class PointsFact:
    """What a points rule (and a growth policy) is asked about.

    ``kind`` is ``order``, ``joined``, ``check_in`` (``streak``: consecutive
    days including this one), ``birthday``, ``profile_completed``, ``event``
    (``event_type``) or ``referral`` (the member is the referee;
    ``referrer_id`` the member who referred them).
    """

    kind: str
    brand: BrandInfo
    member: MemberFacts
    occurred_at: datetime
    money_exponent: int = 2
    order: OrderFacts | None = None
    streak: int = 0
    event_type: str | None = None
    referrer_id: int | None = None
    so_far: tuple[RuleAward, ...] = ()

    def minor(self, amount: Decimal) -> int:
        """``amount`` of the brand's currency in minor units (truncated)."""
        return int(Decimal(amount).scaleb(self.money_exponent))


@dataclass(frozen=True)
class TierStanding:
    """A member as a tier policy judges them, at ``now``."""

    member: MemberFacts
    brand: BrandInfo
    now: datetime
    growth: int
    fact: PointsFact | None
    spent_between: Callable[[datetime, datetime], Awaitable[int]] = field(repr=False)
    grown_between: Callable[[datetime, datetime], Awaitable[int]] = field(repr=False)
    money_exponent: int = 2

    async def spent(self, since: datetime, until: datetime | None = None) -> int:
        """Net spend (paid minus refunded, minor units) of orders placed in
        ``[since, until]`` (``until`` defaults to ``now``)."""
        return await self.spent_between(since, until or self.now)

    async def grown(self, since: datetime, until: datetime | None = None) -> int:
        """Growth value earned (net of reversals) in ``[since, until]``,
        this fact's included."""
        return await self.grown_between(since, until or self.now)

    def minor(self, amount: Decimal) -> int:
        return int(Decimal(amount).scaleb(self.money_exponent))


@dataclass(frozen=True)
class TierGrant:
    """A policy's answer: the tier ``code`` (None: no tier at all) and, for a
    tier bought or held for a set time, until when (None: the tier's own
    validity from now)."""

    code: str | None
    until: datetime | None = None


# Measures of ``TierProgress`` counted in minor units of the brand's currency
# (the API shows them as money).
MONEY_MEASURES = frozenset({"spend"})


@dataclass(frozen=True)
class TierProgress:
    """Where a member stands on the way to a tier: ``current`` of ``required``
    in ``measure`` (``spend``: minor units; ``growth``; or the policy's own)."""

    measure: str
    current: int
    required: int


@dataclass(frozen=True)
class RedemptionTerms:
    """How points pay for part of an order: ``points_per_unit`` points are
    worth one unit of the currency; at most ``max_share_percent`` of the order
    may be paid so, and at least ``min_points`` are used at a time."""

    points_per_unit: int
    max_share_percent: int
    min_points: int


@dataclass(frozen=True)
class OutboundMessage:
    """One message to one recipient on one channel, rendered from its template.

    ``message_id`` is Tessera's id of the message: stable across retries, so a
    sender passes it to a provider that deduplicates, and a delivery receipt
    names it or the provider's id. ``html`` is an email's HTML part (``body``
    its text part). ``template`` and ``params`` are for providers that send
    registered templates (an SMS template code, a WeChat template id) with
    named parameters instead of free text; ``data`` carries anything else a
    channel needs (a WeChat page path, a push badge)."""

    to: str
    body: str
    subject: str | None = None
    data: Mapping[str, Any] = field(default_factory=dict)
    message_id: str = ""
    html: str | None = None
    template: str | None = None
    params: Mapping[str, str] = field(default_factory=dict)


class SendStatus(StrEnum):
    """What became of one attempt to send."""

    DELIVERED = "delivered"  # the provider took the message (receipts may tell more)
    FAILED = "failed"  # not sent this time; ``retryable`` says whether to try again
    REJECTED = "rejected"  # the recipient cannot be reached on this channel: never retried


@dataclass(frozen=True)
class SendResult:
    """A sender's answer. Build it with :meth:`delivered`, :meth:`failed` or
    :meth:`rejected`; ``SendResult(accepted=...)`` alone still reads as
    delivered, or failed without a retry."""

    accepted: bool
    provider_id: str | None = None
    error: str | None = None
    status: SendStatus | None = None
    retryable: bool = False

    def __post_init__(self) -> None:
        if self.status is None:
            status = SendStatus.DELIVERED if self.accepted else SendStatus.FAILED
            object.__setattr__(self, "status", status)
        elif self.accepted != (self.status is SendStatus.DELIVERED):
            raise ValueError("accepted goes with status=delivered and only with it")
        if self.retryable and self.status is not SendStatus.FAILED:
            raise ValueError("only a failed send can be retryable")

    @classmethod
    def delivered(cls, provider_id: str | None = None) -> SendResult:
        return cls(True, provider_id, status=SendStatus.DELIVERED)

    @classmethod
    def failed(cls, error: str, *, retryable: bool, provider_id: str | None = None) -> SendResult:
        return cls(False, provider_id, error, SendStatus.FAILED, retryable)

    @classmethod
    def rejected(cls, error: str, provider_id: str | None = None) -> SendResult:
        """The provider says this recipient refused, unsubscribed, unfollowed
        or does not exist: Tessera records a do-not-contact for the channel."""
        return cls(False, provider_id, error, SendStatus.REJECTED)


class ReceiptStatus(StrEnum):
    DELIVERED = "delivered"
    FAILED = "failed"
    BOUNCED = "bounced"
    OPENED = "opened"
    CLICKED = "clicked"
    UNSUBSCRIBED = "unsubscribed"
    COMPLAINED = "complained"


@dataclass(frozen=True)
class Receipt:
    """One event a provider reports about a sent message, naming it by the
    provider's id (``provider_id``) or by Tessera's (``message_id``)."""

    status: ReceiptStatus
    provider_id: str | None = None
    message_id: str | None = None
    occurred_at: datetime | None = None
    detail: str | None = None


class ReceiptRefused(Exception):
    """A receipt callback whose signature (or shape) does not verify."""


class ChannelSender(Component, ABC):
    """Delivers messages on one channel. At most one sender per channel per brand."""

    family = ComponentFamily.CHANNEL_SENDER
    channel: ClassVar[str]  # "sms", "email", "wechat", "push"

    @abstractmethod
    async def send(self, message: OutboundMessage) -> SendResult:
        """Deliver ``message`` and map the provider's answer to a result.

        A timeout or connection error may be raised instead of returned: it is
        treated as a retryable failure.

        Example::

            async def send(self, message):
                resp = await client.post(self.config.url, json={"to": message.to,
                                                               "text": message.body})
                if resp.status_code >= 500:
                    return SendResult.failed(f"HTTP {resp.status_code}", retryable=True)
                if not resp.is_success:
                    return SendResult.failed(resp.text, retryable=False)
                return SendResult.delivered(resp.json()["id"])
        """

    def parse_receipts(
        self,
        body: bytes,
        headers: Mapping[str, str],
        query: Mapping[str, str] | None = None,
    ) -> list[Receipt]:
        """Read a delivery-receipt callback the provider POSTed to this
        sender's callback URL; raise :class:`ReceiptRefused` when its
        signature does not verify. ``query`` is the callback URL's query
        string: some providers sign there (WeChat's ``signature``,
        ``timestamp``, ``nonce``) or can only carry a shared token there
        (Alibaba Cloud SMS). The default: this sender takes no receipts."""
        raise ReceiptRefused(f"{self.key} takes no delivery receipts")

    def receipt_answer(self) -> tuple[bytes, str] | None:
        """The body and media type the provider expects back once its
        receipts are taken (it pushes them again otherwise: WeChat wants
        ``success``); None (the default): Tessera answers with JSON counts."""
        return None

    def check_callback_url(self, query: Mapping[str, str]) -> str | None:
        """For a provider that checks a callback URL with a signed GET when it
        is saved (WeChat's ``echostr``): verify it (``ReceiptRefused`` when it
        does not verify) and return the text to answer. None (the default):
        this sender has no such check."""
        return None


@dataclass(frozen=True)
class SlotMember:
    """The member a slot is resolved for, as stored (nothing is computed at
    request time). Only the facts the kind's :meth:`SlotKind.needs` asks for
    are filled in; the others are empty."""

    id: int
    tags: frozenset[str] = frozenset()
    tier: str | None = None
    lifecycle_stage: str | None = None
    segments: frozenset[int] = frozenset()
    cluster: int | None = None
    recent_skus: tuple[str, ...] = ()
    """Skus of the member's latest orders, newest first (what "just bought" means)."""
    categories: tuple[str, ...] = ()
    """Categories of those orders' lines, most bought first (preferences)."""


@dataclass(frozen=True)
class BannerCreative:
    """A banner creative of the slot, as stored (times in UTC)."""

    id: int
    title: str
    image_url: str
    link: str
    alt_text: str
    audience_kind: str
    """``everyone``, ``segment``, ``tags``, ``tier`` or ``lifecycle``."""
    audience_values: tuple[str, ...]
    segment_id: int | None
    starts_at: datetime | None
    ends_at: datetime | None
    priority: int
    split_group: str = ""
    split_weight: int = 1
    fallback: bool = False


@dataclass(frozen=True)
class ItemFacts:
    """A catalogue item (price in minor units)."""

    sku: str
    name: str
    category: str | None
    tags: tuple[str, ...]
    price: int | None
    active: bool


@dataclass(frozen=True)
class ItemScore:
    """A stored score of an item: a co-purchase neighbour of ``of`` or a
    popularity within an audience."""

    sku: str
    score: float
    of: str = ""
    category: str | None = None
    count: int = 0


@dataclass(frozen=True)
class ItemSelection:
    """Catalogue items a kind wants loaded besides its candidates (rules)."""

    skus: tuple[str, ...] = ()
    categories: tuple[str, ...] = ()
    tags: tuple[str, ...] = ()
    limit: int = 50


@dataclass(frozen=True)
class SlotNeeds:
    """What Tessera reads from stored data before calling :meth:`SlotKind.render`."""

    member_facts: bool = False
    """tags, tier, lifecycle stage, segments, cluster."""
    purchases: bool = False
    """recent skus and preferred categories."""
    creatives: bool = False
    neighbours: bool = False
    popular: bool = False
    items: ItemSelection | None = None
    depth: int = 50
    """Neighbours read per recent item, popular items read per audience."""


@dataclass(frozen=True)
class SlotData:
    """Stored data for one resolution. ``items`` holds the catalogue entries
    of every sku in the other fields (and of ``needs().items``)."""

    slot: str
    now: datetime
    brand: BrandInfo
    creatives: tuple[BannerCreative, ...] = ()
    missing_segments: frozenset[int] = frozenset()
    """Segments creatives point at that no longer exist."""
    neighbours: tuple[ItemScore, ...] = ()
    popular: Mapping[str, tuple[ItemScore, ...]] = field(default_factory=dict)
    """By audience: ``""`` (everyone), ``segment:<id>``, ``cluster:<n>``; best first."""
    items: Mapping[str, ItemFacts] = field(default_factory=dict)


@dataclass(frozen=True)
class SlotEntry:
    """One thing a slot shows: a creative (``ref`` its id) or an item
    (``ref`` its sku), with the reason, for display and debugging."""

    ref: str
    reason: str
    score: float = 0.0
    variant: str | None = None


class SlotKind(Component, ABC):
    """A kind of personalised slot (banner, recommendations). A brand creates
    named slots of a kind, each with its own config.

    Resolving a slot is a page-view read: Tessera loads what :meth:`needs`
    names from stored data and calls :meth:`render`, which decides in memory
    (no model run, no query). Models are built ahead of time by jobs."""

    family = ComponentFamily.SLOT_KIND
    content: ClassVar[str] = "items"
    """``creatives`` (entries name banner creatives) or ``items`` (skus)."""

    def needs(self) -> SlotNeeds:
        """The stored data :meth:`render` reads (default: the member's facts)."""
        return SlotNeeds(member_facts=True)

    @abstractmethod
    async def render(self, member: SlotMember | None, data: SlotData) -> Sequence[SlotEntry]:
        """The entries to show this member (None: no member), best first.

        Raise :class:`tessera.DomainError` to report a broken configuration:
        the slot shows nothing and its ``lastError`` says why.

        Example::

            async def render(self, member, data):
                top = data.popular.get("", ())[: self.config.limit]
                return [SlotEntry(s.sku, "popular") for s in top]
        """


class ReportType(Component, ABC):
    """A report an operator can run. Any number may be enabled.

    ``Params`` is its parameter model (a :class:`ReportParams`, or a subclass
    adding fields); ``filters`` the filters it understands (a filter it does
    not is refused, field by field); ``max_span_days`` the longest period it
    accepts. Tessera runs :meth:`run` for the period and, with a comparison,
    once more for the comparison period, and fills in ``previous``.
    """

    family = ComponentFamily.REPORT_TYPE
    Params: ClassVar[type[ReportParams]] = ReportParams
    filters: ClassVar[frozenset[str]] = frozenset(FILTERS)
    max_span_days: ClassVar[int] = 731

    @abstractmethod
    async def run(self, context: ReportContext, params: ReportParams) -> ReportResult:
        """Compute the report (aggregate in SQL, never loop over members).

        Example::

            async def run(self, context, params):
                q = context.query()
                start, end = context.bounds(params)
                rows = await q.rows(
                    f"SELECT COUNT(*) AS n FROM member m WHERE m.brand_id = {q(context.brand.id)}"
                    f" AND m.joined_at >= {q(start)} AND m.joined_at < {q(end)}"
                    + context.member_filter(q, params, "m.id")
                )
                return ReportResult(figures=[Figure("joined", "Joined", Unit.COUNT, rows[0]["n"])])
        """


FAMILY_BASES: dict[ComponentFamily, type[Component]] = {
    ComponentFamily.TIER_POLICY: TierPolicy,
    ComponentFamily.POINTS_RULE: PointsRule,
    ComponentFamily.CHANNEL_SENDER: ChannelSender,
    ComponentFamily.SLOT_KIND: SlotKind,
    ComponentFamily.REPORT_TYPE: ReportType,
}
