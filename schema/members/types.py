"""The ``Member`` type. Other domains add fields here (``stats``, ``orders``,
``events``...) as small resolvers delegating to their own modules; keep each
such field a few lines so this file stays easy to extend."""

from __future__ import annotations

import dataclasses
from collections.abc import Iterable, Mapping
from datetime import date, datetime
from typing import TYPE_CHECKING, Annotated, Any

import strawberry
from strawberry.scalars import JSON
from strawberry.types import Info
from strawberry.types.base import get_object_definition
from strawberry.types.private import is_private
from strawberry.utils.str_converters import to_camel_case

from tessera.members import pii
from tessera.members.models import Member as MemberModel
from tessera.members.profile import Gender, MemberStatus
from tessera.schema.ids import encode_id
from tessera.schema.members.dataloaders import IdentitiesByMemberIdLoader
from tessera.schema.members.identities import Identity
from tessera.schema.members.personal import shown
from tessera.schema.pagination import Connection, Window
from tessera.schema.tags.dataloaders import TagAssignmentsByMemberIdLoader
from tessera.schema.tags.types import Tag, TagAssignment

if TYPE_CHECKING:
    from tessera.schema.assets.types import AssetKind, ExpiringPoints, LedgerEntry, MemberAssets
    from tessera.schema.behaviour.types import BehaviourEvent
    from tessera.schema.coupons.types import Coupon, CouponStatus
    from tessera.schema.orders.types import MemberStats, Order
    from tessera.schema.segments.lifecycle import LifecycleStage, Rfm
    from tessera.schema.tiers.types import Tier, TierChange, TierProgress

strawberry.enum(
    MemberStatus,
    description="PROSPECT: registered, not yet a member under the brand's join rule; "
    "ACTIVE: a member; FROZEN: suspended by the brand; CANCELLED: left the programme.",
)
strawberry.enum(Gender, description="Gender as the member gave it; UNKNOWN when not given.")


@strawberry.type(description="A person in the brand's membership programme.")
class Member:
    pk: strawberry.Private[int]
    id: strawberry.ID = strawberry.field(description="Opaque id.")
    external_id: str | None = strawberry.field(
        description="The brand's own id for this member (also an EXTERNAL_ID identity)."
    )
    card_number: str | None = strawberry.field(
        description="Electronic membership card number (digits, last one a Luhn check digit); "
        "null for prospects, who get one when they join."
    )
    status: MemberStatus = strawberry.field(description="Where the member stands in the programme.")
    name: str = strawberry.field(description="Full name.")
    gender: Gender = strawberry.field(description="Gender.")
    birthday: date | None = strawberry.field(description="Date of birth.")
    province: str = strawberry.field(description="Region: province or state.")
    city: str = strawberry.field(description="Region: city.")
    education: str = strawberry.field(description="Education, in the brand's own vocabulary.")
    occupation: str = strawberry.field(description="Occupation.")
    income_range: str = strawberry.field(description="Income band, in the brand's own vocabulary.")
    interests: list[str] = strawberry.field(description="Interests.")
    join_channel: str = strawberry.field(
        description="Channel they joined through, e.g. `pos`, `app`."
    )
    join_source: str = strawberry.field(
        description="Where they came from (campaign, store, referrer)."
    )
    joined_at: datetime = strawberry.field(
        description="When they joined; for a prospect, when they registered."
    )
    created_at: datetime = strawberry.field(description="When the record was created.")
    updated_at: datetime = strawberry.field(description="Last profile change.")
    attributes: JSON = strawberry.field(
        description="Custom attributes by key, as defined in `attributeDefinitions`."
    )
    # Filled by a list resolver that loaded them for the whole page at once
    # (``schema.members.preload``) and served by the plain resolvers installed
    # there; None: the resolvers below load them on demand.
    ready_tags: strawberry.Private[list[Tag] | None] = None
    ready_stats: strawberry.Private[Any] = None
    # The clear phone and email, decrypted once per member by the preload
    # (unset: not decrypted yet); masked or audited as each field is resolved.
    clear: strawberry.Private[dict[str, str | None] | None] = None
    # The phone and email as this request shows them (masked or not, the read
    # noted for the audit), set by the preload when the page selects them
    # plainly: the engine reads these as it reads a plain attribute.
    ready_phone: strawberry.Private[str | None] = None
    ready_email: strawberry.Private[str | None] = None
    brand_pk: strawberry.Private[int] = 0
    phone_sealed: strawberry.Private[str | None] = None
    email_sealed: strawberry.Private[str | None] = None

    @strawberry.field(
        description="Primary phone, E.164 (a PHONE identity); masked (`+86138****8000`) "
        "without the `pii` scope."
    )
    def phone(self, info: Info) -> str | None:
        value = pii.reveal_column(self.brand_pk, "phone", self.phone_sealed)
        return shown(info, self.pk, "phone", value)

    @strawberry.field(
        description="Primary email, lower-cased (an EMAIL identity); masked "
        "(`a***@example.com`) without the `pii` scope."
    )
    def email(self, info: Info) -> str | None:
        value = pii.reveal_column(self.brand_pk, "email", self.email_sealed)
        return shown(info, self.pk, "email", value)

    @strawberry.field(description="Every identity of the member.")
    async def identities(self, info: Info) -> list[Identity]:
        rows = await IdentitiesByMemberIdLoader.of(info).load(self.pk)
        return [Identity.from_model(row) for row in rows]

    # A page whose list resolver preloaded ``phone``, ``email``, ``tags`` and
    # ``stats`` is served by plain resolvers that read the ready data
    # (``preload.serve_ready_fields``); these resolve the fields otherwise.
    @strawberry.field(description="The member's tags (expired assignments are left out).")
    async def tags(self, info: Info) -> list[Tag]:
        rows = await TagAssignmentsByMemberIdLoader.of(info).load(self.pk)
        return [Tag.from_model(tag) for tag in {row.tag_id: row.tag for row in rows}.values()]

    @strawberry.field(
        description="The member's live tag assignments: a tag put on by several sources "
        "appears once per source, with its expiry."
    )
    async def tag_assignments(self, info: Info) -> list[TagAssignment]:
        rows = await TagAssignmentsByMemberIdLoader.of(info).load(self.pk)
        return [TagAssignment.from_model(row) for row in rows]

    @strawberry.field(description="Purchase figures: orders, spend, units, refunds.")
    async def stats(
        self, info: Info
    ) -> Annotated[MemberStats, strawberry.lazy("tessera.schema.orders.types")]:
        from tessera.schema.orders.queries import member_stats

        return await member_stats(info, self.pk)

    @strawberry.field(description="The member's orders, newest first.")
    async def orders(
        self,
        info: Info,
        first: int | None = None,
        after: str | None = None,
        last: int | None = None,
        before: str | None = None,
    ) -> Connection[Annotated[Order, strawberry.lazy("tessera.schema.orders.types")]]:
        from tessera.schema.orders.queries import member_orders

        return await member_orders(info, self.pk, Window(first, after, last, before))

    @strawberry.field(description="The member's behaviour events, newest first (a timeline).")
    async def events(
        self,
        info: Info,
        first: int | None = None,
        after: str | None = None,
        last: int | None = None,
        before: str | None = None,
    ) -> Connection[Annotated[BehaviourEvent, strawberry.lazy("tessera.schema.behaviour.types")]]:
        from tessera.schema.behaviour.queries import member_events

        return await member_events(info, self.pk, Window(first, after, last, before))

    @strawberry.field(description="Balances: points (and held points), stored value, growth.")
    async def assets(
        self, info: Info
    ) -> Annotated[MemberAssets, strawberry.lazy("tessera.schema.assets.types")]:
        from tessera.schema.assets.queries import member_assets

        return await member_assets(info, self.pk)

    @strawberry.field(description="The member's ledger entries of one kind (or all), newest first.")
    async def ledger(
        self,
        info: Info,
        kind: Annotated[AssetKind, strawberry.lazy("tessera.schema.assets.types")] | None = None,
        first: int | None = None,
        after: str | None = None,
        last: int | None = None,
        before: str | None = None,
    ) -> Connection[Annotated[LedgerEntry, strawberry.lazy("tessera.schema.assets.types")]]:
        from tessera.schema.assets.queries import member_ledger

        return await member_ledger(info, self.pk, kind, Window(first, after, last, before))

    @strawberry.field(description="Points lapsing within `withinDays` days (1-3660), by expiry.")
    async def points_expiring(
        self, info: Info, within_days: int = 30
    ) -> Annotated[ExpiringPoints, strawberry.lazy("tessera.schema.assets.types")]:
        from tessera.schema.assets.queries import member_points_expiring

        return await member_points_expiring(info, self.pk, within_days)

    @strawberry.field(
        description="The member's coupons in `status` (omitted: every status), newest first."
    )
    async def coupons(
        self,
        info: Info,
        status: Annotated[CouponStatus, strawberry.lazy("tessera.schema.coupons.types")]
        | None = None,
        first: int | None = None,
        after: str | None = None,
        last: int | None = None,
        before: str | None = None,
    ) -> Connection[Annotated[Coupon, strawberry.lazy("tessera.schema.coupons.types")]]:
        from tessera.schema.coupons.queries import member_coupons

        return await member_coupons(info, self.pk, status, Window(first, after, last, before))

    @strawberry.field(
        description="Lifecycle stage as last computed (after each order, and nightly); null "
        "before the first computation."
    )
    async def lifecycle_stage(
        self, info: Info
    ) -> Annotated[LifecycleStage, strawberry.lazy("tessera.schema.segments.lifecycle")] | None:  # type: ignore[valid-type]
        from tessera.schema.segments.lifecycle import member_stage

        return await member_stage(info, self.pk)  # type: ignore[return-value]

    @strawberry.field(description="RFM scores; null without an order in the brand's RFM window.")
    async def rfm(
        self, info: Info
    ) -> Annotated[Rfm, strawberry.lazy("tessera.schema.segments.lifecycle")] | None:
        from tessera.schema.segments.lifecycle import member_rfm

        return await member_rfm(info, self.pk)

    @strawberry.field(description="The member's tier; null before they have one.")
    async def tier(
        self, info: Info
    ) -> Annotated[Tier, strawberry.lazy("tessera.schema.tiers.types")] | None:
        from tessera.schema.tiers.queries import member_tier

        return await member_tier(info, self.pk)

    @strawberry.field(
        description="When the tier reaches its evaluation point (renewed, or lowered if the "
        "retention rule is not met); null: it does not expire."
    )
    async def tier_expires_at(self, info: Info) -> datetime | None:
        from tessera.schema.tiers.queries import member_tier_expires_at

        return await member_tier_expires_at(info, self.pk)

    @strawberry.field(description="Progress to the next tier up, in the tier policy's measure.")
    async def tier_progress(
        self, info: Info
    ) -> Annotated[TierProgress, strawberry.lazy("tessera.schema.tiers.types")]:
        from tessera.schema.tiers.queries import member_tier_progress

        return await member_tier_progress(info, self.pk)

    @strawberry.field(description="Every change of the member's tier, oldest first.")
    async def tier_history(
        self,
        info: Info,
        first: int | None = None,
        after: str | None = None,
        last: int | None = None,
        before: str | None = None,
    ) -> Connection[Annotated[TierChange, strawberry.lazy("tessera.schema.tiers.types")]]:
        from tessera.schema.tiers.queries import member_tier_history

        return await member_tier_history(info, self.pk, Window(first, after, last, before))

    @classmethod
    def from_model(cls, member: MemberModel) -> Member:
        return cls.from_row({name: getattr(member, name) for name in MEMBER_COLUMNS})

    @classmethod
    def from_row(cls, row: Mapping[str, Any]) -> Member:
        """From a plain row of ``MEMBER_COLUMNS`` (``QuerySet.values``), or of
        those :func:`columns_for` names (``id`` and ``brand_id`` always): a
        field whose column the row lacks is left unset, so the engine's read
        of it fails loudly rather than answering null.

        The instance's attributes are set at once rather than through the
        dataclass's constructor (46 keyword parameters, most of them its
        fields' defaults) and the enums read from tables: a members page
        builds 100 of these per view (docs/bench.md)."""
        member = object.__new__(cls)
        attributes = member.__dict__
        attributes.update(_DEFAULTS)
        for name, value in row.items():
            if name not in _CONVERTED:
                attributes[name] = value
        pk = row["id"]
        attributes["pk"] = pk
        attributes["id"] = encode_id("Member", pk)
        attributes["brand_pk"] = row["brand_id"]
        if "status" in row:
            attributes["status"] = _STATUSES[row["status"]]
        if "gender" in row:
            attributes["gender"] = _GENDERS[row["gender"]]
        if "interests" in row:
            attributes["interests"] = list(row["interests"])
        return member


_CONVERTED = {"id", "status", "gender", "interests", "brand_id"}
MEMBER_COLUMNS = (
    "id",
    "brand_id",
    "external_id",
    "card_number",
    "status",
    "name",
    "gender",
    "birthday",
    "phone_sealed",
    "email_sealed",
    "province",
    "city",
    "education",
    "occupation",
    "income_range",
    "interests",
    "join_channel",
    "join_source",
    "joined_at",
    "created_at",
    "updated_at",
    "attributes",
)
_STATUSES = {status.value: status for status in MemberStatus}
_GENDERS = {gender.value: gender for gender in Gender}
# What the constructor sets a field to when it is not given (``from_row``
# sets the fields without a default from the row, or leaves them unset).
_DEFAULTS = {
    field.name: field.default
    for field in dataclasses.fields(Member)
    if field.init and field.default is not dataclasses.MISSING
}
assert all(field.default_factory is dataclasses.MISSING for field in dataclasses.fields(Member)), (
    "Member.from_row sets defaults, not default factories"
)


# The columns each field of ``Member`` reads, by its name in the schema: a
# plain field its own column; ``phone`` and ``email`` their sealed values;
# every other field with a resolver reads only the member's id (held by
# tests/members/test_member_page_columns.py, which answers every field of
# the type from a page and from the member read alone).
_FIELD_COLUMNS: Mapping[str, tuple[str, ...]] = {
    field.graphql_name or to_camel_case(field.python_name): (field.python_name,)
    for field in get_object_definition(Member, strict=True).fields
    if field.python_name in MEMBER_COLUMNS
    and field.type_annotation is not None
    and not is_private(field.type_annotation.annotation)
} | {"phone": ("phone_sealed",), "email": ("email_sealed",)}


def columns_for(fields: Iterable[str], *also: str) -> tuple[str, ...]:
    """The columns (of ``MEMBER_COLUMNS``, in its order) that answering
    ``fields`` of ``Member`` (names in the schema) needs, with ``also`` (a
    list's sort key) and the id and brand every member is built with: a page
    reads only these, not its members' every column (a members page selecting
    a few fields read 22 columns a row, half its rows' cost)."""
    wanted = {"id", "brand_id", *also}
    for name in fields:
        wanted.update(_FIELD_COLUMNS.get(name, ()))
    return tuple(column for column in MEMBER_COLUMNS if column in wanted)


def member_from_model(member: MemberModel) -> Member:
    return Member.from_model(member)
