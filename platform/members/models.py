from __future__ import annotations

from tortoise import fields

from tessera.members import pii
from tessera.models_base import BrandOwned


class Member(BrandOwned):
    """A person in one brand's programme.

    ``phone``, ``email``, ``external_id`` and ``card_number`` are the primary
    value of the identity of that kind, :mod:`tessera.members.service` keeps
    them and the :class:`MemberIdentity` rows consistent. Phone and email are
    stored sealed (:mod:`tessera.members.pii`); the properties reveal them.
    """

    id = fields.BigIntField(primary_key=True)
    external_id = fields.CharField(max_length=128, null=True)
    card_number = fields.CharField(max_length=32, null=True, description="null for prospects")
    status = fields.CharField(max_length=16, default="active")
    name = fields.CharField(max_length=200, default="")
    gender = fields.CharField(max_length=16, default="unknown")
    birthday = fields.DateField(null=True)
    phone_sealed = fields.TextField(null=True, description="E.164, sealed")
    email_sealed = fields.TextField(null=True, description="lower-cased, sealed")
    province = fields.CharField(max_length=64, default="")
    city = fields.CharField(max_length=64, default="")
    education = fields.CharField(max_length=64, default="")
    occupation = fields.CharField(max_length=100, default="")
    income_range = fields.CharField(max_length=32, default="")
    interests = fields.JSONField(default=list)
    join_channel = fields.CharField(max_length=32, default="")
    join_source = fields.CharField(max_length=100, default="")
    attributes = fields.JSONField(default=dict, description="custom attributes, validated")
    joined_at = fields.DatetimeField(description="when they joined, for a prospect, registered")
    merged_into: fields.ForeignKeyNullableRelation[Member] = fields.ForeignKeyField(
        "tessera.Member",
        related_name=False,
        null=True,
        on_delete=fields.CASCADE,
        index=False,
        description="status merged: the member this tombstone resolves to (tessera.members.merge)",
    )
    merged_into_id: int | None
    created_at = fields.DatetimeField(auto_now_add=True)
    updated_at = fields.DatetimeField(auto_now=True)

    class Meta:
        table = "member"
        unique_together = (("brand_id", "external_id"), ("brand_id", "card_number"))
        indexes = (("brand_id", "joined_at"), ("brand_id", "name"), ("brand_id", "status"))

    @property
    def phone(self) -> str | None:
        return pii.reveal_column(self.brand_id, "phone", self.phone_sealed)

    @property
    def email(self) -> str | None:
        return pii.reveal_column(self.brand_id, "email", self.email_sealed)


class MemberIdentity(BrandOwned):
    """One way to recognise a member: a phone, an email, an openid, a card...
    The value is normalised before it is stored, so lookups compare like with
    like: by ``digest``, the keyed blind index of (kind, normalised value).
    Personal values are ``sealed``; the brand's own references (card number,
    external id) are kept readable in ``reference`` (:mod:`tessera.members.pii`)."""

    id = fields.BigIntField(primary_key=True)
    member: fields.ForeignKeyRelation[Member] = fields.ForeignKeyField(
        "tessera.Member", related_name="identities", on_delete=fields.CASCADE, index=False
    )
    member_id: int
    kind = fields.CharField(max_length=32)
    digest = fields.CharField(max_length=64, description="blind index of the normalised value")
    sealed = fields.TextField(null=True, description="a personal value, sealed")
    reference = fields.CharField(
        max_length=128, null=True, description="a card number or external id, readable"
    )
    created_at = fields.DatetimeField(auto_now_add=True)

    class Meta:
        table = "member_identity"
        unique_together = (("brand_id", "kind", "digest"),)
        # Not (brand, kind, reference): the planner would take it for lookups
        # by (kind, digest) and filter a whole kind's rows on the digest.
        indexes = (("brand_id", "member_id"), ("brand_id", "reference"))

    @property
    def value(self) -> str:
        """The normalised value, revealed."""
        return pii.reveal_identity(self)


class AttributeDefinition(BrandOwned):
    """A custom member attribute a brand defines (key, type, rules)."""

    id = fields.IntField(primary_key=True)
    key = fields.CharField(max_length=64)
    label = fields.CharField(max_length=200, default="")
    description = fields.TextField(default="")
    type = fields.CharField(max_length=16, description="string, number, boolean, date or enum")
    required = fields.BooleanField(default=False)
    allowed_values = fields.JSONField(default=list, description="for enum attributes")
    created_at = fields.DatetimeField(auto_now_add=True)
    updated_at = fields.DatetimeField(auto_now=True)

    class Meta:
        table = "attribute_definition"
        unique_together = (("brand_id", "key"),)


class MemberSettings(BrandOwned):
    """A brand's membership scheme settings: the join rule and card numbering."""

    id = fields.IntField(primary_key=True)
    join_rule = fields.CharField(max_length=16, default="registration")
    card_prefix = fields.CharField(max_length=8, default="")
    card_sequence = fields.BigIntField(default=0, description="last card number issued")
    auto_merge = fields.BooleanField(
        default=False, description="merge exact verified-identity duplicates without review"
    )
    updated_at = fields.DatetimeField(auto_now=True)

    class Meta:
        table = "member_settings"
        unique_together = (("brand_id",),)


class MemberMerge(BrandOwned):
    """One merge of two members of a brand (:mod:`tessera.members.merge`):
    what moved, the conflicts found, and whether it was undone. ``moved``
    names the rows by table so :func:`~tessera.members.merge.undo_merge` can
    move exactly those back."""

    id = fields.BigIntField(primary_key=True)
    survivor: fields.ForeignKeyRelation[Member] = fields.ForeignKeyField(
        "tessera.Member", related_name=False, on_delete=fields.CASCADE, index=False
    )
    survivor_id: int
    merged: fields.ForeignKeyRelation[Member] = fields.ForeignKeyField(
        "tessera.Member", related_name=False, on_delete=fields.CASCADE, index=False
    )
    merged_id: int
    idempotency_key = fields.CharField(max_length=200)
    fingerprint = fields.CharField(max_length=64)
    automatic = fields.BooleanField(default=False)
    actor = fields.CharField(max_length=200, default="")
    conflicts = fields.JSONField(default=list, description="attributes both members had")
    moved = fields.JSONField(default=dict, description="ids of the rows moved, by table")
    previous = fields.JSONField(default=dict, description="survivor values the merge changed")
    merged_at = fields.DatetimeField()
    undone_at = fields.DatetimeField(null=True)

    class Meta:
        table = "member_merge"
        unique_together = (("brand_id", "idempotency_key"),)
        indexes = (("brand_id", "survivor_id"), ("brand_id", "merged_id"))


class DuplicateCandidate(BrandOwned):
    """Two members of a brand that may be one person, for review: ``reason``
    is ``identity`` (a write tried to give ``member`` an identity ``other``
    holds, ``kind`` says which) or a fuzzy profile match (``name_birthday``,
    ``name_city_phone``). ``member_id < other_id`` keeps one row per pair and
    reason."""

    id = fields.BigIntField(primary_key=True)
    member: fields.ForeignKeyRelation[Member] = fields.ForeignKeyField(
        "tessera.Member", related_name=False, on_delete=fields.CASCADE, index=False
    )
    member_id: int
    other: fields.ForeignKeyRelation[Member] = fields.ForeignKeyField(
        "tessera.Member", related_name=False, on_delete=fields.CASCADE, index=False
    )
    other_id: int
    reason = fields.CharField(max_length=32)
    kind = fields.CharField(max_length=32, default="", description="identity kind, for identity")
    status = fields.CharField(max_length=16, default="open", description="open, dismissed, merged")
    found_at = fields.DatetimeField()
    resolved_at = fields.DatetimeField(null=True)

    class Meta:
        table = "duplicate_candidate"
        unique_together = (("brand_id", "member_id", "other_id", "reason"),)
        indexes = (("brand_id", "status", "found_at"),)
