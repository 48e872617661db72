"""Recommendation slot kinds: ranked items, each with the reason it is shown.

The scores come from stored data the jobs build (docs/slots.md): co-purchase
neighbours per item and recency-decayed popularity per audience. Every kind
drops what the member just bought and what is not active in the catalogue,
and fills up from the brand's popular list, so a member with no history
(cold start) still gets the popular items.
"""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from typing import Literal

from pydantic import BaseModel, ConfigDict, Field

from tessera import ItemScore, ItemSelection, SlotData, SlotEntry, SlotKind, SlotMember, SlotNeeds


class RecommendConfig(BaseModel):
    model_config = ConfigDict(extra="forbid")

    limit: int = Field(10, ge=1, le=50, description="Items shown.")


def _depth(config: RecommendConfig) -> int:
    # Room for the items the member just bought, which are dropped.
    return config.limit + 20


class _Picker:
    """Ranked entries without repeats, what the member bought or inactive items."""

    def __init__(self, member: SlotMember | None, data: SlotData, limit: int) -> None:
        self.bought = set(member.recent_skus) if member else set()
        self.items = data.items
        self.limit = limit
        self.entries: list[SlotEntry] = []
        self.seen: set[str] = set()

    def full(self) -> bool:
        return len(self.entries) >= self.limit

    def add(self, sku: str, reason: str, score: float) -> None:
        item = self.items.get(sku)
        if self.full() or sku in self.seen or sku in self.bought or item is None:
            return
        if not item.active:
            return
        self.seen.add(sku)
        self.entries.append(SlotEntry(sku, reason, round(score, 6)))

    def fill_popular(self, data: SlotData, reason: str = "popular with everyone") -> None:
        for score in data.popular.get("", ()):
            self.add(score.sku, reason, score.score)


def co_purchase_ranking(neighbours: Iterable[ItemScore]) -> list[tuple[str, float, str]]:
    """Neighbours of the member's recent items, their similarities summed,
    each with the item that contributed most (the reason; of items that
    contributed as much, the first by SKU: the rows come in no set order,
    and the same member must read the same reason on every request)."""
    total: dict[str, float] = {}
    best: dict[str, tuple[float, str]] = {}
    for n in neighbours:
        total[n.sku] = total.get(n.sku, 0.0) + n.score
        held = best.get(n.sku)
        if held is None or (-n.score, n.of) < (-held[0], held[1]):
            best[n.sku] = (n.score, n.of)
    return sorted(
        ((sku, score, best[sku][1]) for sku, score in total.items()),
        key=lambda t: (-t[1], t[0]),
    )


class CoPurchaseSlot(SlotKind):
    key = "slots.co_purchase"
    title = "Bought together"
    description = (
        "Items often bought with what the member bought lately (item-item similarity over "
        "orders, built by a job); members without orders get the popular list."
    )
    Config = RecommendConfig

    def needs(self) -> SlotNeeds:
        config: RecommendConfig = self.config  # type: ignore[assignment]
        return SlotNeeds(purchases=True, neighbours=True, popular=True, depth=_depth(config))

    async def render(self, member: SlotMember | None, data: SlotData) -> list[SlotEntry]:
        config: RecommendConfig = self.config  # type: ignore[assignment]
        picker = _Picker(member, data, config.limit)
        for sku, score, of in co_purchase_ranking(data.neighbours):
            picker.add(sku, f"bought together with {of}", score)
        picker.fill_popular(
            data,
            "popular with everyone"
            if picker.entries or member and member.recent_skus
            else "popular with everyone (no purchases yet)",
        )
        return picker.entries


class PopularConfig(RecommendConfig):
    audience: Literal["segment", "category", "everyone"] = Field(
        "segment",
        description="segment: popular in the member's segments and cluster; category: popular "
        "in the categories the member buys most; everyone: the brand's popular list.",
    )


class PopularSlot(SlotKind):
    key = "slots.popular"
    title = "Popular with you"
    description = (
        "Items popular (recency-decayed, by distinct buyers) in the member's segments and "
        "cluster or in the categories they buy, then the brand's popular list."
    )
    Config = PopularConfig

    def needs(self) -> SlotNeeds:
        config: PopularConfig = self.config  # type: ignore[assignment]
        return SlotNeeds(member_facts=True, purchases=True, popular=True, depth=_depth(config))

    async def render(self, member: SlotMember | None, data: SlotData) -> list[SlotEntry]:
        config: PopularConfig = self.config  # type: ignore[assignment]
        picker = _Picker(member, data, config.limit)
        if member is not None and config.audience == "segment":
            audiences = [f"segment:{s}" for s in sorted(member.segments)]
            if member.cluster is not None:
                audiences.append(f"cluster:{member.cluster}")
            ranked = sorted(
                (
                    (score.score, score.sku, audience)
                    for audience in audiences
                    for score in data.popular.get(audience, ())
                ),
                key=lambda t: (-t[0], t[1]),
            )
            for value, sku, audience in ranked:
                kind, _, ref = audience.partition(":")
                picker.add(sku, f"popular in {kind} {ref}", value)
        if member is not None and config.audience in ("segment", "category"):
            for category in member.categories:
                for score in data.popular.get("", ()):
                    if score.category == category:
                        picker.add(score.sku, f"popular in {category}, which you buy", score.score)
        picker.fill_popular(data)
        return picker.entries


class RuleAudience(BaseModel):
    model_config = ConfigDict(extra="forbid")

    tags: list[str] = Field(default_factory=list, description="Members with any of these tags.")
    tiers: list[str] = Field(default_factory=list, description="Members in one of these tiers.")
    segments: list[int] = Field(default_factory=list, description="Members in one of these.")


class ItemRule(BaseModel):
    model_config = ConfigDict(extra="forbid")

    audience: RuleAudience | None = Field(None, description="Who the rule is for; null: all.")
    pinned: list[str] = Field(default_factory=list, max_length=50, description="Skus first.")
    categories: list[str] = Field(default_factory=list, max_length=20)
    tags: list[str] = Field(default_factory=list, max_length=20, description="Item tags.")


class RulesConfig(RecommendConfig):
    rules: list[ItemRule] = Field(
        default_factory=list, max_length=20, description="Applied in order; the first fill."
    )


def _applies(audience: RuleAudience | None, member: SlotMember | None) -> bool:
    if audience is None:
        return True
    if member is None:
        return False
    return bool(
        member.tags & set(audience.tags)
        or (member.tier is not None and member.tier in audience.tiers)
        or member.segments & set(audience.segments)
    )


class RulesSlot(SlotKind):
    key = "slots.rules"
    title = "Items by rule"
    description = (
        "Pinned items and items of given categories or tags, for an audience (tags, tiers, "
        "segments) or everyone; topped up from the popular list."
    )
    Config = RulesConfig

    def needs(self) -> SlotNeeds:
        config: RulesConfig = self.config  # type: ignore[assignment]
        rules: Sequence[ItemRule] = config.rules
        return SlotNeeds(
            member_facts=True,
            purchases=True,
            popular=True,
            items=ItemSelection(
                skus=tuple(s for r in rules for s in r.pinned),
                categories=tuple(c for r in rules for c in r.categories),
                tags=tuple(t for r in rules for t in r.tags),
                limit=config.limit * 5,
            ),
            depth=_depth(config),
        )

    async def render(self, member: SlotMember | None, data: SlotData) -> list[SlotEntry]:
        config: RulesConfig = self.config  # type: ignore[assignment]
        picker = _Picker(member, data, config.limit)
        items = sorted(data.items.values(), key=lambda i: i.sku)
        for number, rule in enumerate(config.rules, start=1):
            if not _applies(rule.audience, member):
                continue
            for sku in rule.pinned:
                picker.add(sku, f"pinned by rule {number}", 0.0)
            for item in items:
                if item.category is not None and item.category in rule.categories:
                    picker.add(item.sku, f"category {item.category} (rule {number})", 0.0)
                matched = sorted(set(item.tags) & set(rule.tags))
                if matched:
                    picker.add(item.sku, f"tagged {matched[0]} (rule {number})", 0.0)
        picker.fill_popular(data)
        return picker.entries
