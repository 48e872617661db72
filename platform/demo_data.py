"""`tessera demo --members N`: a realistic brand to try Tessera on, and the
data behind `make bench`.

Members in Chinese and English names with valid phones of the brand's
region, tags in groups, two years of orders with items across categories
and stores, refunds now and then, and behaviour events. The same seed and
``now`` give the same data.

Speed matters (100k members in a few minutes), so members are written with
bulk inserts of exactly the rows :func:`tessera.members.service.create_member`
writes (a member, its identities, a card number from the brand's sequence),
without the per-member ``member.joined`` event: nothing is enabled on a fresh
brand to receive it. Everything else goes through the services' batch forms
(``tag_members``, ``record_orders``, ``record_events``) and ``record_refund``,
so statistics, lines and refunds are exactly what the API would have stored
(a test checks the statistics against ``rebuild_stats``).
"""

from __future__ import annotations

import asyncio
import random
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from datetime import UTC, date, datetime, timedelta
from decimal import Decimal
from typing import Any

import phonenumbers
from tortoise.expressions import F

from tessera.behaviour.service import EventInput, record_events
from tessera.bulk_load import bulk_load
from tessera.members import pii
from tessera.members.batch import identity_owners
from tessera.members.cards import format_card
from tessera.members.identities import IdentityKind
from tessera.members.models import Member, MemberIdentity, MemberSettings
from tessera.members.profile import MemberStatus
from tessera.members.scheme import get_settings
from tessera.orders.inputs import LineInput, MemberRef, OrderInput, RefundInput, RefundLineInput
from tessera.orders.money import MoneyAmount, exponent
from tessera.orders.refunds import record_refund
from tessera.persons import linking as persons
from tessera.pipeline.orders import record_orders
from tessera.reports.rollup import mark_dirty
from tessera.scope import BrandScope
from tessera.tags.models import Tag, TagGroup
from tessera.tags.service import TagSource, create_group, create_tag, tag_members
from tessera.uow import unit_of_work

CHUNK = 1000
PARALLEL_CHUNKS = 3
HISTORY = timedelta(days=730)

# stage, done, total
OnProgress = Callable[[str, int, int], None]

SURNAMES = (
    "王李张刘陈杨黄赵吴周徐孙马朱胡郭何林罗高郑梁谢宋唐许韩冯邓曹"
    "彭曾肖田董潘袁蔡蒋余于杜叶程魏苏吕丁沈任姚卢傅钟"
)
GIVEN = (
    "伟芳娜秀英敏静丽强磊军洋勇艳杰娟涛明超兰霞平刚桂英华"
    "玉萍红鹏飞宇欣怡子涵浩然梓萱思雨俊熙佳琪晨阳雪婷博文嘉怡"
)
_FIRST_NAMES = (
    "Olivia Emma Amelia Sophia Mia Chloe Grace Lily Ella Zoe Hannah Ruby Lucy Alice Emily "
    "James Oliver Jack Henry Leo Noah Lucas Ethan Liam Daniel Samuel Adam Ryan Kevin Jason"
)
_LAST_NAMES = (
    "Smith Jones Taylor Brown Williams Wilson Johnson Davies Robinson Wright Thompson Evans "
    "Walker White Roberts Green Hall Wood Jackson Clarke Chen Wong Lee Lam Ho Cheung"
)
FIRST_NAMES = _FIRST_NAMES.split()
LAST_NAMES = _LAST_NAMES.split()
PROVINCES = {
    "广东": ["广州", "深圳", "佛山", "东莞"],
    "上海": ["上海"],
    "北京": ["北京"],
    "浙江": ["杭州", "宁波", "温州"],
    "江苏": ["南京", "苏州", "无锡"],
    "四川": ["成都", "绵阳"],
    "湖北": ["武汉", "宜昌"],
    "福建": ["福州", "厦门", "泉州"],
}
CN_MOBILE_PREFIXES = "130 131 132 135 136 137 138 139 150 151 152 157 158 159 186 187 188 189 199"
CHANNELS = {"pos": 50, "app": 20, "mini_program": 20, "web": 10}
STORES = [f"S{n:03d}" for n in range(1, 21)]
# category -> (sku, name, retail price in major units)
CATALOGUE: dict[str, list[tuple[str, str, int]]] = {
    "apparel": [("AP-TEE", "Cotton tee", 99), ("AP-SHIRT", "Oxford shirt", 259),
                ("AP-JKT", "Down jacket", 899), ("AP-JEANS", "Slim jeans", 399)],
    "shoes": [("SH-RUN", "Running shoes", 699), ("SH-SNK", "Canvas sneakers", 329),
              ("SH-BOOT", "Leather boots", 1199)],
    "accessories": [("AC-CAP", "Baseball cap", 129), ("AC-BAG", "Tote bag", 199),
                    ("AC-SOCK", "Socks 3-pack", 59)],
    "beauty": [("BE-SERUM", "Face serum", 459), ("BE-LIP", "Lipstick", 239),
               ("BE-MASK", "Sheet masks x10", 149)],
    "sports": [("SP-MAT", "Yoga mat", 259), ("SP-BOTTLE", "Water bottle", 89),
               ("SP-BALL", "Basketball", 219)],
    "home": [("HO-MUG", "Ceramic mug", 69), ("HO-CANDLE", "Scented candle", 159)],
}  # fmt: skip
ITEMS = [(sku, name, category, price) for category, items in CATALOGUE.items()
         for sku, name, price in items]  # fmt: skip
# group code -> (group name, [(tag code, tag name, share of members)])
TAGS: dict[str, tuple[str, list[tuple[str, str, float]]]] = {
    "value": ("Value", [("vip", "VIP", 0.08), ("price_sensitive", "Price sensitive", 0.25)]),
    "preference": ("Preferences", [(f"likes_{c}", f"Likes {c}", 0.18) for c in CATALOGUE]),
    "channel": ("Channel", [("online_first", "Shops online", 0.35),
                            ("store_regular", "Store regular", 0.3)]),
    "care": ("Care", [("birthday_month", "Birthday this month", 0.08),
                      ("do_not_disturb", "Do not disturb", 0.03)]),
}  # fmt: skip
EVENT_TYPES = {"view": 40, "search": 12, "favourite": 8, "add_to_cart": 12, "store_visit": 10,
               "share": 4, "consult": 4, "check_in": 10}  # fmt: skip


@dataclass
class DemoReport:
    members: int = 0
    orders: int = 0
    refunds: int = 0
    events: int = 0
    skipped: bool = False


def external_id(seed: int, index: int) -> str:
    return f"demo-{seed}-{index:07d}"


async def generate(
    scope: BrandScope,
    members: int,
    *,
    seed: int = 1,
    now: datetime | None = None,
    orders_per_member: float = 3.0,
    events_per_member: float = 4.0,
    refund_rate: float = 0.03,
    progress: OnProgress | None = None,
) -> DemoReport:
    """Add ``members`` demo members with their history to the brand. Running
    it again with the same seed changes nothing (``skipped``)."""
    now = (now or datetime.now(UTC)).astimezone(UTC).replace(microsecond=0)
    report = DemoReport()
    if await scope.query(Member).filter(external_id=external_id(seed, 0)).exists():
        report.skipped = True
        return report
    tags = await _ensure_tags(scope)
    await get_settings(scope)  # created here, not by racing chunks
    world = _World(scope, seed, now, orders_per_member, events_per_member, refund_rate)
    # Chunks are independent (their own members, their own random stream), so
    # a few run at once: the database works on one while Python builds another.
    gate = asyncio.Semaphore(PARALLEL_CHUNKS)

    async def chunk(start: int) -> None:
        async with gate:
            rng = random.Random(f"{seed}:{start}")
            count = min(CHUNK, members - start)
            people = [world.person(rng, start + i) for i in range(count)]
            ids = await _insert_members(scope, people)
            await _tag(scope, rng, ids, tags)
            orders, refunds, events = await world.history(rng, people, ids)
            report.members += len(ids)
            report.orders += orders
            report.refunds += refunds
            report.events += events
            if progress is not None:
                progress("members", report.members, members)

    async with bulk_load(scope):
        await asyncio.gather(*(chunk(start) for start in range(0, members, CHUNK)))
    return report


async def _ensure_tags(scope: BrandScope) -> dict[str, float]:
    """The demo's tag groups and tags (created once); tag code -> share."""
    groups = {g.code: g for g in await scope.query(TagGroup).filter(code__in=list(TAGS))}
    existing = set(await scope.query(Tag).values_list("code", flat=True))
    shares = {}
    for group_code, (group_name, tags) in TAGS.items():
        group = groups.get(group_code) or await create_group(scope, group_code, group_name)
        for code, name, share in tags:
            if code not in existing:
                await create_tag(scope, code, name, group_id=group.id)
            shares[code] = share
    return shares


@dataclass
class _Person:
    index: int
    values: dict[str, Any]
    identities: list[tuple[IdentityKind, str]]


class _World:
    """What the generated brand looks like: its people, and their history."""

    def __init__(
        self,
        scope: BrandScope,
        seed: int,
        now: datetime,
        orders_per_member: float,
        events_per_member: float,
        refund_rate: float,
    ) -> None:
        self.scope = scope
        self.seed = seed
        self.now = now
        self.orders_per_member = orders_per_member
        self.events_per_member = events_per_member
        self.refund_rate = refund_rate
        self.region = scope.brand.default_region
        self.currency = scope.brand.currency
        self.chinese = self.region in {"CN", "HK", "TW", "MO", "SG"}
        self.mobile = phonenumbers.example_number_for_type(
            self.region, phonenumbers.PhoneNumberType.MOBILE
        )

    def name(self, rng: random.Random) -> tuple[str, bool]:
        if rng.random() < (0.85 if self.chinese else 0.15):
            given = "".join(rng.choice(GIVEN) for _ in range(rng.choice((1, 2, 2))))
            return rng.choice(SURNAMES) + given, True
        return f"{rng.choice(FIRST_NAMES)} {rng.choice(LAST_NAMES)}", False

    def phone(self, rng: random.Random, index: int) -> str | None:
        """A valid mobile number of the brand's region, distinct for each
        (seed, index): the subscriber digits are a bijection of the index."""
        if self.mobile is None:
            return None
        national = str(self.mobile.national_number)
        head = rng.choice(CN_MOBILE_PREFIXES.split()) if self.region == "CN" else national[:3]
        width = len(national) - len(head)
        space = 10**width
        digits = (self.seed * 1_000_003 + index * 7_919) % space
        number = phonenumbers.PhoneNumber(
            country_code=self.mobile.country_code, national_number=int(f"{head}{digits:0{width}d}")
        )
        if not phonenumbers.is_valid_number(number):
            return None
        return phonenumbers.format_number(number, phonenumbers.PhoneNumberFormat.E164)

    def person(self, rng: random.Random, index: int) -> _Person:
        name, chinese = self.name(rng)
        joined = self.now - timedelta(seconds=rng.randrange(int(HISTORY.total_seconds() * 1.5)))
        phone = self.phone(rng, index) if rng.random() < 0.95 else None
        email = None
        if rng.random() < (0.3 if chinese else 0.7):
            local = f"member{index}" if chinese else name.lower().replace(" ", ".") + str(index)
            email = f"{local}.s{self.seed}@example.com"
        province = rng.choice(list(PROVINCES)) if self.chinese else ""
        values: dict[str, Any] = {
            "external_id": external_id(self.seed, index),
            "status": MemberStatus.ACTIVE.value,
            "name": name,
            "gender": rng.choices(["female", "male", "unknown"], [55, 40, 5])[0],
            "birthday": date(rng.randint(1960, 2006), rng.randint(1, 12), rng.randint(1, 28))
            if rng.random() < 0.8
            else None,
            "phone": phone,
            "email": email,
            "province": province,
            "city": rng.choice(PROVINCES[province]) if province else "",
            "join_channel": rng.choices(list(CHANNELS), list(CHANNELS.values()))[0],
            "join_source": rng.choice(STORES) if rng.random() < 0.5 else "spring_campaign",
            "interests": rng.sample(sorted(CATALOGUE), rng.randint(0, 2)),
            "joined_at": joined,
            "attributes": {},
        }
        identities: list[tuple[IdentityKind, str]] = [
            (IdentityKind.EXTERNAL_ID, values["external_id"])
        ]
        if phone:
            identities.append((IdentityKind.PHONE, phone))
        if email:
            identities.append((IdentityKind.EMAIL, email))
        return _Person(index, values, identities)

    async def history(
        self, rng: random.Random, people: list[_Person], ids: list[int]
    ) -> tuple[int, int, int]:
        """Orders, refunds and events of one chunk of members, through the services."""
        orders: list[OrderInput] = []
        events: list[EventInput] = []
        for person, member_id in zip(people, ids, strict=True):
            start = max(person.values["joined_at"], self.now - HISTORY)
            for n in range(_how_many(rng, self.orders_per_member)):
                orders.append(self.order(rng, person, member_id, start, n))
            for n in range(_how_many(rng, self.events_per_member)):
                events.append(self.event(rng, person, member_id, start, n))
        recorded = 0
        refunds = []
        for batch in _chunks(orders, 1000):
            for result in await record_orders(self.scope, batch, now=self.now):
                if isinstance(result, Exception):
                    raise result
                recorded += 1
                if rng.random() < self.refund_rate:
                    refunds.append(self.refund_input(rng, result.order))
        for refund in refunds:
            await record_refund(self.scope, refund, now=self.now)
        for events_batch in _chunks(events, 1000):
            for outcome in await record_events(self.scope, events_batch, now=self.now):
                if isinstance(outcome, Exception):
                    raise outcome
        return recorded, len(refunds), len(events)

    def _at(self, rng: random.Random, start: datetime) -> datetime:
        span = max(int((self.now - start).total_seconds()), 1)
        return start + timedelta(seconds=rng.randrange(span))

    def money(self, major: Decimal) -> MoneyAmount:
        return MoneyAmount(
            major.quantize(Decimal(1).scaleb(-exponent(self.currency))), self.currency
        )

    def order(
        self, rng: random.Random, person: _Person, member_id: int, start: datetime, n: int
    ) -> OrderInput:
        channel = rng.choices(list(CHANNELS), list(CHANNELS.values()))[0]
        lines = []
        retail = Decimal(0)
        for sku, name, category, price in rng.sample(
            ITEMS, rng.choices([1, 2, 3, 4], [45, 30, 15, 10])[0]
        ):
            quantity = rng.choices([1, 2, 3], [75, 20, 5])[0]
            unit = Decimal(price) * Decimal(rng.choice(["1", "1", "0.9", "0.8"]))
            retail += unit * quantity
            lines.append(
                LineInput(
                    sku=sku,
                    quantity=quantity,
                    unit_price=self.money(unit),
                    name=name,
                    category=category,
                    retail_price=self.money(Decimal(price)),
                )
            )
        coupon = rng.random() < 0.15
        paid = retail - (Decimal(rng.choice([10, 20, 50])) if coupon else 0)
        return OrderInput(
            external_id=f"{person.values['external_id']}-o{n}",
            member=MemberRef(member_id=member_id),
            occurred_at=self._at(rng, start),
            amount_paid=self.money(max(paid, Decimal(0))),
            lines=lines,
            coupon_codes=[f"WELCOME{rng.randint(10, 99)}"] if coupon else [],
            store_code=rng.choice(STORES) if channel == "pos" else None,
            channel=channel,
            # Made-up history, like an import: the codes are text, not issued coupons.
            redeem_coupons=False,
        )

    def refund_input(self, rng: random.Random, order: Any) -> RefundInput:
        """Half give one unit of the first line back, half the whole order."""
        at = min(order.occurred_at + timedelta(days=rng.randint(1, 30)), self.now)
        by_line = rng.random() < 0.5
        return RefundInput(
            external_id=f"{order.external_id}-r",
            occurred_at=at,
            order_id=order.id,
            lines=[RefundLineInput(line_no=0, quantity=1)] if by_line else None,
            reason=rng.choice(["size", "quality", "changed mind"]),
        )

    def event(
        self, rng: random.Random, person: _Person, member_id: int, start: datetime, n: int
    ) -> EventInput:
        kind = rng.choices(list(EVENT_TYPES), list(EVENT_TYPES.values()))[0]
        sku, _, category, _ = rng.choice(ITEMS)
        by_kind: dict[str, dict[str, Any]] = {
            "view": {"sku": sku},
            "favourite": {"sku": sku},
            "add_to_cart": {"sku": sku, "quantity": 1},
            "share": {"sku": sku, "target": rng.choice(["wechat", "weibo"])},
            "search": {"query": category},
            "store_visit": {"storeCode": rng.choice(STORES)},
            "consult": {"topic": rng.choice(["size", "delivery", "care"])},
            "check_in": {"streak": rng.randint(1, 7)},
        }
        properties = by_kind[kind]
        return EventInput(
            event_id=f"{person.values['external_id']}-e{n}",
            member=MemberRef(member_id=member_id),
            type=kind,
            occurred_at=self._at(rng, start),
            properties=properties,
        )


def _how_many(rng: random.Random, mean: float) -> int:
    """A long-tailed count: many members buy once or never, a few often."""
    if mean <= 0:
        return 0
    return min(int(rng.expovariate(1 / mean) + 0.5), int(mean * 10))


def _chunks(items: list[Any], size: int) -> Iterator[list[Any]]:
    for start in range(0, len(items), size):
        yield items[start : start + size]


async def _reserve_cards(scope: BrandScope, connection: Any, count: int) -> list[str]:
    """``count`` card numbers from the brand's sequence, moved in one update."""
    settings = await get_settings(scope, connection)
    await (
        scope.query(MemberSettings)
        .using_db(connection)
        .update(card_sequence=F("card_sequence") + count)
    )
    last = (await scope.query(MemberSettings).using_db(connection).get()).card_sequence
    return [format_card(settings.card_prefix, n) for n in range(last - count + 1, last + 1)]


async def _insert_members(scope: BrandScope, people: list[_Person]) -> list[int]:
    """The members and their identities, as ``create_member`` stores them;
    a phone or email another member has already is left out."""
    owners = await identity_owners(
        scope,
        [
            (k.value, v)
            for p in people
            for k, v in p.identities
            if k in (IdentityKind.PHONE, IdentityKind.EMAIL)
        ],
    )
    taken = {value for _, value in owners}
    version = scope.brand.identity_key_version
    async with unit_of_work(scope) as uow:
        conn = uow.connection
        cards = await _reserve_cards(scope, conn, len(people))
        rows = []
        for person, card in zip(people, cards, strict=True):
            person.identities = [(k, v) for k, v in person.identities if v not in taken]
            person.identities.append((IdentityKind.CARD_NUMBER, card))
            for column in ("phone", "email"):
                if person.values[column] in taken:
                    person.values[column] = None
            rows.append(
                scope.build(
                    Member,
                    card_number=card,
                    **pii.seal_profile(scope.brand_id, version, person.values),
                )
            )
        await scope.insert_many(Member, rows, conn)
        # As create_member: the member growth report's join days.
        await mark_dirty(scope, conn, [r.joined_at for r in rows])
        ids = dict(
            await scope.query(Member)
            .using_db(conn)
            .filter(external_id__in=[p.values["external_id"] for p in people])
            .values_list("external_id", "id")
        )
        await scope.insert_many(
            MemberIdentity,
            [
                scope.build(
                    MemberIdentity,
                    member_id=ids[p.values["external_id"]],
                    **pii.identity_columns(scope.brand_id, version, k.value, v),
                )
                for p in people
                for k, v in p.identities
            ],
            conn,
        )
        await persons.record_identities(
            scope, [(ids[p.values["external_id"]], k, v) for p in people for k, v in p.identities]
        )
        persons.link_after_commit(uow, [ids[p.values["external_id"]] for p in people])
    return [ids[p.values["external_id"]] for p in people]


async def _tag(
    scope: BrandScope, rng: random.Random, member_ids: list[int], shares: dict[str, float]
) -> None:
    for code, share in shares.items():
        chosen = [m for m in member_ids if rng.random() < share]
        if chosen:
            await tag_members(scope, [code], member_ids=chosen, source=TagSource.MANUAL)
