"""Personalisation slots (docs/slots.md): banner creatives, the brand's item
catalogue, what the recommendation jobs store for request time, the slot
events members cause, and the member clusters found by k-means.

A slot itself is a :class:`tessera.features.models.BrandFeature` of the
slot-kind family; ``slot`` columns here hold its instance name."""

from __future__ import annotations

from tortoise import fields

from tessera.models_base import BrandOwned


class SlotCreative(BrandOwned):
    """One banner a slot may show. ``audience_kind`` is ``everyone``,
    ``segment`` (``segment_id``), ``tags``, ``tier`` or ``lifecycle`` (codes
    in ``audience_values``); the window is ``[starts_at, ends_at)`` in UTC.
    Creatives of one slot sharing a non-empty ``split_group`` are the
    variants of an A/B test, shared out by ``split_weight``."""

    id = fields.IntField(primary_key=True)
    slot = fields.CharField(max_length=100)
    title = fields.CharField(max_length=200)
    image_url = fields.CharField(max_length=2000)
    link = fields.CharField(max_length=2000)
    alt_text = fields.CharField(max_length=500)
    audience_kind = fields.CharField(max_length=16, default="everyone")
    audience_values: fields.JSONField[list[str]] = fields.JSONField(default=list)
    # A plain column, not a foreign key: when the segment is deleted the
    # creative must keep saying which one it was (the slot's lastError).
    segment_id = fields.IntField(null=True)
    starts_at = fields.DatetimeField(null=True)
    ends_at = fields.DatetimeField(null=True)
    priority = fields.IntField(default=0)
    split_group = fields.CharField(max_length=64, default="")
    split_weight = fields.IntField(default=1)
    fallback = fields.BooleanField(default=False)
    created_at = fields.DatetimeField(auto_now_add=True)
    updated_at = fields.DatetimeField(auto_now=True)

    class Meta:
        table = "slot_creative"
        indexes = (("brand_id", "slot"),)


class SlotEvent(BrandOwned):
    """An impression or click a member's app reported, once per ``event_id``."""

    id = fields.BigIntField(primary_key=True)
    event_id = fields.CharField(max_length=64)
    slot = fields.CharField(max_length=100)
    kind = fields.CharField(max_length=16, description="impression or click")
    creative_id = fields.IntField(null=True)
    sku = fields.CharField(max_length=64, null=True)
    member_id = fields.BigIntField(null=True)
    occurred_at = fields.DatetimeField()

    class Meta:
        table = "slot_event"
        unique_together = (("brand_id", "event_id"),)
        indexes = (("brand_id", "slot", "creative_id"),)


class CatalogueItem(BrandOwned):
    """An item the brand sells, as recommendations show it. Order lines add
    unknown skus (name and category from the line); an import fills in the rest."""

    id = fields.BigIntField(primary_key=True)
    sku = fields.CharField(max_length=64)
    name = fields.CharField(max_length=200, default="")
    category = fields.CharField(max_length=100, null=True)
    tags: fields.JSONField[list[str]] = fields.JSONField(default=list)
    # ",a,b,": matched with LIKE '%,a,%' the same way on both databases.
    tag_text = fields.CharField(max_length=2000, default="")
    price = fields.BigIntField(null=True, description="minor units")
    active = fields.BooleanField(default=True)
    created_at = fields.DatetimeField(auto_now_add=True)
    updated_at = fields.DatetimeField(auto_now=True)

    class Meta:
        table = "catalogue_item"
        unique_together = (("brand_id", "sku"),)


class ItemNeighbour(BrandOwned):
    """One of an item's top-N co-purchased items (rank 1 is the most similar),
    as the last model build computed them."""

    id = fields.BigIntField(primary_key=True)
    sku = fields.CharField(max_length=64)
    neighbour = fields.CharField(max_length=64)
    rank = fields.SmallIntField()
    score = fields.FloatField()
    together = fields.IntField(description="orders holding both items")

    class Meta:
        table = "item_neighbour"
        indexes = (("brand_id", "sku"),)


class ItemPopularity(BrandOwned):
    """An item's recency-decayed popularity within one audience: ``scope`` is
    ``""`` (all members), ``segment:<id>`` or ``cluster:<n>``. ``buyers`` is
    the number of distinct buyers in that audience."""

    id = fields.BigIntField(primary_key=True)
    scope = fields.CharField(max_length=32, default="")
    sku = fields.CharField(max_length=64)
    category = fields.CharField(max_length=100, null=True)
    rank = fields.IntField()
    score = fields.FloatField()
    buyers = fields.IntField()

    class Meta:
        table = "item_popularity"
        indexes = (("brand_id", "scope", "rank"),)


class MemberCluster(BrandOwned):
    """The cluster k-means put the member in at the last clustering run."""

    member: fields.OneToOneRelation = fields.OneToOneField(  # type: ignore[type-arg]
        "tessera.Member", related_name=False, on_delete=fields.CASCADE, primary_key=True
    )
    member_id: int
    cluster = fields.SmallIntField()

    class Meta:
        table = "member_cluster"
        indexes = (("brand_id", "cluster"),)


class ClusterInfo(BrandOwned):
    """One cluster of the last run: its size, centre and a generated description."""

    id = fields.IntField(primary_key=True)
    cluster = fields.SmallIntField()
    size = fields.IntField()
    description = fields.CharField(max_length=300)
    centre: fields.JSONField[dict[str, float]] = fields.JSONField(default=dict)
    computed_at = fields.DatetimeField()

    class Meta:
        table = "cluster_info"
        unique_together = (("brand_id", "cluster"),)
