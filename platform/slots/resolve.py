"""Resolving a slot for a member: the page-view read (DESIGN.md, "Speed of
the GraphQL layer"). Only stored rows are read, in one statement (a banner
kind adds its creatives) whatever the catalogue or history size; the kind
decides in memory."""

from __future__ import annotations

import json
import logging
from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field
from datetime import UTC, datetime
from typing import Any

from tortoise import connections
from tortoise.expressions import Subquery

from tessera import runtime
from tessera.errors import DomainError
from tessera.features.models import BrandFeature
from tessera.features.service import load_config
from tessera.members.models import Member
from tessera.plugin_host.components import (
    BannerCreative,
    ComponentFamily,
    ItemFacts,
    ItemScore,
    SlotData,
    SlotEntry,
    SlotKind,
    SlotMember,
    SlotNeeds,
)
from tessera.rewards.facts import brand_info
from tessera.scope import BrandScope
from tessera.segments.models import Segment
from tessera.slots.models import SlotCreative

log = logging.getLogger("tessera.slots")

# The latest order lines that make "what the member just bought": their
# skus are filtered out and seed the co-purchase neighbours.
RECENT_LINES = 30
# Neighbours are read for this many of the newest distinct skus.
SEED_SKUS = 10


@dataclass(frozen=True)
class Resolution:
    """A resolved slot: the kind's entries and the stored rows they name."""

    feature: BrandFeature
    kind: type[SlotKind]
    entries: list[SlotEntry]
    creatives: Mapping[int, SlotCreative] = field(default_factory=dict)
    items: Mapping[str, ItemFacts] = field(default_factory=dict)
    error: str | None = None


async def slot_feature(
    scope: BrandScope,
    slot: str,
    field: str = "key",
    *,
    member_id: int | None = None,
    member_field: str = "memberId",
) -> BrandFeature:
    """The enabled slot named ``slot``; NOT_FOUND at ``field`` otherwise.
    With ``member_id``, also NOT_FOUND at ``member_field`` when the brand has
    no such member: checked by a subquery in the same statement, because a
    page view pays one round trip per query (DESIGN.md, "Speed of the
    GraphQL layer")."""
    query = scope.query(BrandFeature).filter(
        family=ComponentFamily.SLOT_KIND.value, instance=slot, enabled=True
    )
    if member_id is not None:
        query = query.annotate(
            member_found=Subquery(scope.query(Member).filter(id=member_id).limit(1).values("id"))
        )
    feature = await query.first()
    if feature is None or runtime.current().host.component(feature.component_key) is None:
        raise DomainError("NOT_FOUND", "no such slot", [field])
    if member_id is not None and getattr(feature, "member_found", None) is None:
        raise DomainError("NOT_FOUND", "no such member", [member_field])
    return feature


def creative_facts(row: SlotCreative) -> BannerCreative:
    return BannerCreative(
        id=row.id,
        title=row.title,
        image_url=row.image_url,
        link=row.link,
        alt_text=row.alt_text,
        audience_kind=row.audience_kind,
        audience_values=tuple(row.audience_values or ()),
        segment_id=row.segment_id,
        starts_at=row.starts_at,
        ends_at=row.ends_at,
        priority=row.priority,
        split_group=row.split_group,
        split_weight=row.split_weight,
        fallback=row.fallback,
    )


def _ints(values: Any) -> list[int]:
    """``values_list(..., flat=True)``'s values (typed as tuples by Tortoise)."""
    return [int(v) for v in values]


def _audience_kinds(creatives: Iterable[SlotCreative]) -> set[str]:
    return {c.audience_kind for c in creatives if not c.fallback}


@dataclass(frozen=True)
class _Kind:
    """A slot's kind and validated config as this process last read them.
    ``stored`` is the feature row's kind, config and secrets as the database
    returns them: every resolution reads them again in its one statement,
    so a config changed by any process is seen by the next page view."""

    stored: tuple[str, str, str]
    cls: type[SlotKind]
    config: Any
    needs: SlotNeeds


# (brand id, slot key) -> the slot's kind. Keyed by brand: a slot of one
# brand is never looked up for another. Bounded; the oldest entry leaves first.
_kinds: dict[tuple[int, str], _Kind] = {}
_KINDS_SIZE = 10_000


def _remember(key: tuple[int, str], kind: _Kind) -> None:
    if key not in _kinds and len(_kinds) >= _KINDS_SIZE:
        del _kinds[next(iter(_kinds))]
    _kinds[key] = kind


# Every part of the statement answers rows of the same shape:
# (part, k, s, c, d, x, n, m): four texts, a float and two integers.
_COLUMNS = ("k", "s", "c", "d", "x", "n", "m")


def _part(name: str, select: dict[str, str], rest: str) -> str:
    values = ", ".join(select.get(c, "NULL") for c in _COLUMNS)
    return f"SELECT '{name}' AS part, {values} {rest}"


def _statement(
    brand_id: int, slot: str, member_id: int | None, needs: SlotNeeds | None, now: datetime
) -> tuple[str, list[Any]]:
    """The one statement a page view makes: the slot's feature row, the
    member's existence and, when ``needs`` is known, every stored row the
    kind reads (the member's facts, latest order lines, the neighbours of
    those items, the popular lists and the catalogue entries of every
    candidate). CTEs let each part feed the next inside the database."""
    params: list[Any] = []
    cte_params: list[Any] = []  # the CTEs come first in the text
    ctes: list[str] = []
    parts: list[str] = []
    # The first part types the columns for PostgreSQL's UNION.
    parts.append(
        _part(
            "f",
            {
                "k": 'CAST("component_key" AS TEXT)',
                "s": 'CAST("config" AS TEXT)',
                "c": 'CAST("secrets" AS TEXT)',
                "d": 'CAST("last_error" AS TEXT)',
                "x": "CAST(NULL AS DOUBLE PRECISION)",
                "n": 'CAST("id" AS BIGINT)',
                "m": "CAST(NULL AS BIGINT)",
            },
            'FROM "brand_feature" WHERE "brand_id" = ? AND "family" = ? AND "instance" = ?'
            ' AND "enabled"',
        )
    )
    params += [brand_id, ComponentFamily.SLOT_KIND.value, slot]
    if member_id is not None:
        parts.append(_part("m", {"n": '"id"'}, 'FROM "member" WHERE "brand_id" = ? AND "id" = ?'))
        params += [brand_id, member_id]
    if needs is None:
        return " UNION ALL ".join(parts), params

    facts = member_id is not None and (needs.member_facts or needs.creatives)
    if facts:
        parts.append(
            _part(
                "tag",
                {"k": 't."code"'},
                'FROM "tag_assignment" a JOIN "tag" t ON t."id" = a."tag_id"'
                ' WHERE a."brand_id" = ? AND t."brand_id" = ? AND a."member_id" = ?'
                ' AND (a."expires_at" IS NULL OR a."expires_at" > ?)',
            )
        )
        params += [brand_id, brand_id, member_id, now]
        parts.append(
            _part(
                "tier",
                {"k": 'd."code"'},
                'FROM "member_tier_state" s LEFT JOIN "tier_definition" d ON d."id" = s."tier_id"'
                ' WHERE s."brand_id" = ? AND s."member_id" = ?',
            )
        )
        parts.append(
            _part(
                "stage",
                {"k": '"stage"'},
                'FROM "member_lifecycle" WHERE "brand_id" = ? AND "member_id" = ?',
            )
        )
        parts.append(
            _part(
                "segment",
                {"n": '"segment_id"'},
                'FROM "segment_membership" WHERE "brand_id" = ? AND "member_id" = ?',
            )
        )
        parts.append(
            _part(
                "cluster",
                {"n": '"cluster"'},
                'FROM "member_cluster" WHERE "brand_id" = ? AND "member_id" = ?',
            )
        )
        params += [brand_id, member_id] * 4

    purchases = member_id is not None and needs.purchases
    if purchases:
        ctes.append(
            'recent AS (SELECT l."sku" AS sku, l."category" AS category,'
            ' l."quantity" AS quantity, ROW_NUMBER() OVER (ORDER BY o."occurred_at" DESC,'
            ' o."id" DESC, l."line_no") AS pos FROM "order_line" l'
            ' JOIN "sales_order" o ON o."id" = l."order_id"'
            ' WHERE l."brand_id" = ? AND o."brand_id" = ? AND o."member_id" = ?'
            f' ORDER BY o."occurred_at" DESC, o."id" DESC, l."line_no" LIMIT {RECENT_LINES})'
        )
        cte_params += [brand_id, brand_id, member_id]
        parts.append(
            _part("line", {"k": "sku", "s": "category", "n": "quantity", "m": "pos"}, "FROM recent")
        )
    candidates: list[str] = []
    if purchases and needs.neighbours:
        ctes.append(
            f"seed AS (SELECT sku, MIN(pos) AS pos FROM recent GROUP BY sku"
            f" ORDER BY MIN(pos) LIMIT {SEED_SKUS})"
        )
        ctes.append(
            'near AS (SELECT n."sku" AS sku, n."neighbour" AS neighbour, n."score" AS score,'
            ' n."together" AS together, n."rank" AS rank, seed.pos AS pos'
            ' FROM "item_neighbour" n JOIN seed ON seed.sku = n."sku"'
            ' WHERE n."brand_id" = ? AND n."rank" <= ?)'
        )
        cte_params += [brand_id, needs.depth]
        parts.append(
            _part(
                "near",
                {"k": "sku", "s": "neighbour", "x": "score", "n": "together", "m": "rank"},
                "FROM near",
            )
        )
        candidates.append("SELECT neighbour AS sku FROM near")
    if needs.popular:
        audiences = "\"scope\" = ''"
        if facts:
            # The member's own audiences, as the build names them.
            audiences += (
                ' OR "scope" IN (SELECT \'segment:\' || CAST("segment_id" AS TEXT)'
                ' FROM "segment_membership" WHERE "brand_id" = ? AND "member_id" = ?'
                " UNION ALL SELECT 'cluster:' || CAST(\"cluster\" AS TEXT)"
                ' FROM "member_cluster" WHERE "brand_id" = ? AND "member_id" = ?)'
            )
        ctes.append(
            'popular AS (SELECT "scope" AS audience, "sku" AS sku, "category" AS category,'
            ' "score" AS score, "buyers" AS buyers, "rank" AS rank FROM "item_popularity"'
            f' WHERE "brand_id" = ? AND "rank" <= ? AND ({audiences}))'
        )
        cte_params += [brand_id, needs.depth]
        if facts:
            cte_params += [brand_id, member_id] * 2
        parts.append(
            _part(
                "popular",
                {
                    "k": "audience",
                    "s": "sku",
                    "c": "category",
                    "x": "score",
                    "n": "buyers",
                    "m": "rank",
                },
                "FROM popular",
            )
        )
        candidates.append("SELECT sku FROM popular")
    # Plain rows: hundreds of candidates as model instances would cost more
    # than the rest of the request.
    item = {
        "k": 'i."sku"',
        "s": 'i."name"',
        "c": 'i."category"',
        "d": 'CAST(i."tags" AS TEXT)',
        "n": 'i."price"',
        "m": 'CASE WHEN i."active" THEN 1 ELSE 0 END',
    }
    if candidates:
        # A join on the catalogue's key, probed once per distinct candidate.
        # As `"sku" IN (candidates)` beside the brand the plan hung on the
        # tables' statistics: before there are any (new tables, a brand's
        # first build) PostgreSQL compared every catalogue item with every
        # candidate, 40 ms a page view instead of 1.
        parts.append(
            _part(
                "item",
                item,
                f"FROM ({' UNION '.join(candidates)}) c"
                ' JOIN "catalogue_item" i ON i."brand_id" = ? AND i."sku" = c.sku',
            )
        )
        params.append(brand_id)
    selection = needs.items
    conditions: list[str] = []
    chosen: list[Any] = []
    if selection is not None:
        if selection.skus:
            conditions.append(f'i."sku" IN ({", ".join("?" * len(selection.skus))})')
            chosen += selection.skus
        if selection.categories:
            marks = ", ".join("?" * len(selection.categories))
            conditions.append(f'(i."category" IN ({marks}) AND i."active")')
            chosen += selection.categories
        for tag in selection.tags:
            conditions.append('(i."tag_text" LIKE ? ESCAPE \'\\\' AND i."active")')
            chosen.append(f"%,{_like(tag)},%")
    if conditions:
        parts.append(
            _part(
                "item",
                item,
                f'FROM "catalogue_item" i WHERE i."brand_id" = ? AND ({" OR ".join(conditions)})',
            )
        )
        params += [brand_id, *chosen]
    sql = " UNION ALL ".join(parts)
    if ctes:
        sql = f"WITH {', '.join(ctes)} {sql}"
    return sql, cte_params + params


def _like(text: str) -> str:
    return text.replace("\\", "\\\\").replace("%", "\\%").replace("_", "\\_")


async def _read(
    scope: BrandScope, slot: str, member_id: int | None, needs: SlotNeeds | None, now: datetime
) -> dict[str, list[tuple[Any, ...]]]:
    """Runs :func:`_statement`: its rows by part. Hand-written: one round
    trip instead of one per part, and no ORM query building per page view."""
    sql, params = _statement(scope.brand_id, slot, member_id, needs, now)
    conn = connections.get("default")
    if conn.capabilities.dialect == "postgres":
        parts = sql.split("?")
        sql = "".join(f"{part}${i}" for i, part in enumerate(parts[:-1], 1)) + parts[-1]
    _, rows = await conn.execute_query(sql, params)
    found: dict[str, list[tuple[Any, ...]]] = {}
    for row in rows:
        values = tuple(row)
        found.setdefault(values[0], []).append(values[1:])
    return found


def _kind_of(scope: BrandScope, slot: str, row: tuple[Any, ...]) -> _Kind | None:
    """The kind of a feature row read by :func:`_read` (None: its plugin is
    not installed), validated once per change of the stored config."""
    component_key, config_text, secrets, _, _, _, _ = row
    stored = (str(component_key), str(config_text), str(secrets or ""))
    cached = _kinds.get((scope.brand_id, slot))
    if cached is not None and cached.stored == stored:
        return cached
    rt = runtime.current()
    registered = rt.host.component(stored[0])
    if registered is None:
        return None
    kind_cls: type[SlotKind] = registered.cls  # type: ignore[assignment]
    feature = BrandFeature(brand_id=scope.brand_id, config=json.loads(stored[1]), secrets=stored[2])
    config = load_config(kind_cls, feature, rt.settings)
    kind = _Kind(stored, kind_cls, config, kind_cls(config).needs())
    _remember((scope.brand_id, slot), kind)
    return kind


async def resolve(
    scope: BrandScope,
    slot: str,
    member_id: int | None,
    *,
    now: datetime | None = None,
    field: str = "key",
    member_field: str = "memberId",
) -> Resolution:
    """Resolve ``slot`` for ``member_id`` (None: no member, e.g. a preview
    of what everyone sees). NOT_FOUND for an unknown slot or member.

    One statement reads everything for a recommendation kind (a banner kind
    adds its creatives): the kind's needs come from this process's last
    reading of the slot, and the same statement returns the slot's stored
    config, so a change made anywhere is noticed at once and the statement
    runs again with the new needs (as it does on a process's first view)."""
    now = now or datetime.now(UTC)
    cached = _kinds.get((scope.brand_id, slot))
    needs = cached.needs if cached is not None else None
    for _ in range(3):  # a config changing on every read: use the last
        rows = await _read(scope, slot, member_id, needs, now)
        features = rows.get("f", [])
        current = _kind_of(scope, slot, features[0]) if features else None
        if current is None:
            _kinds.pop((scope.brand_id, slot), None)
            raise DomainError("NOT_FOUND", "no such slot", [field])
        if member_id is not None and not rows.get("m"):
            raise DomainError("NOT_FOUND", "no such member", [member_field])
        if needs is not None and current.needs == needs:
            break
        needs = current.needs
    assert needs is not None and current is not None
    kind = current.cls(current.config)
    feature_row = features[0]
    feature = BrandFeature(
        id=int(feature_row[5]),
        brand_id=scope.brand_id,
        family=ComponentFamily.SLOT_KIND.value,
        component_key=current.stored[0],
        instance=slot,
        enabled=True,
        config=json.loads(current.stored[1]),
        secrets=current.stored[2],
        last_error=feature_row[3],
    )

    creatives: list[SlotCreative] = []
    missing: frozenset[int] = frozenset()
    if needs.creatives:
        creatives = await scope.query(SlotCreative).filter(slot=slot)
        referenced = {c.segment_id for c in creatives if c.segment_id is not None}
        if referenced:
            existing = (
                await scope.query(Segment).filter(id__in=referenced).values_list("id", flat=True)
            )
            missing = frozenset(referenced - set(_ints(existing)))

    member: SlotMember | None = None
    if member_id is not None:
        member = _member(member_id, rows, needs, _audience_kinds(creatives))

    neighbours = tuple(
        ItemScore(str(n), float(x), of=str(sku), count=int(t))
        for sku, n, _, _, x, t, _ in sorted(rows.get("near", ()), key=lambda r: (r[0], r[6]))
    )
    popular: dict[str, list[ItemScore]] = {}
    for audience, sku, category, _, score, buyers, _ in sorted(
        rows.get("popular", ()), key=lambda r: (r[0], r[6])
    ):
        popular.setdefault(str(audience), []).append(
            ItemScore(str(sku), float(score), category=category, count=int(buyers))
        )
    items = {
        str(sku): ItemFacts(
            str(sku), str(name), category, _tags(tags), price, bool(active),
        )
        for sku, name, category, tags, _, price, active in rows.get("item", ())
    }  # fmt: skip

    data = SlotData(
        slot=slot,
        now=now,
        brand=brand_info(scope),
        creatives=tuple(creative_facts(c) for c in creatives),
        missing_segments=missing,
        neighbours=neighbours,
        popular={k: tuple(v) for k, v in popular.items()},
        items=items,
    )
    error: str | None = None
    entries: list[SlotEntry] = []
    try:
        entries = list(await kind.render(member, data))
    except DomainError as exc:
        error = exc.message
    except Exception as exc:  # a broken plugin shows nothing, never a 500
        log.exception("slot kind %s failed on slot %s", feature.component_key, slot)
        error = f"{type(exc).__name__}: {exc}"
    if error is None and missing:
        lost = sorted(c.id for c in creatives if c.segment_id in missing)
        error = (
            f"creatives {', '.join(map(str, lost))} target deleted segments "
            f"{', '.join(map(str, sorted(missing)))} and are not shown"
        )
    await _note_error(scope, feature, error, now)
    return Resolution(
        feature,
        current.cls,
        entries,
        creatives={c.id: c for c in creatives},
        items=items,
        error=error,
    )


def _tags(text: str | None) -> tuple[str, ...]:
    # Most items have none: decoding "[]" for each of some fifty candidates
    # cost more than making their ItemFacts.
    return tuple(json.loads(text)) if text and text != "[]" else ()


def _member(
    member_id: int, rows: Mapping[str, list[tuple[Any, ...]]], needs: SlotNeeds, audiences: set[str]
) -> SlotMember:
    """The member's facts from :func:`_read`'s rows: all of them for a kind
    that asks for facts; for a banner kind those its creatives' audiences use."""
    wanted = {"tags", "tier", "lifecycle", "segment", "cluster"} if needs.member_facts else set()
    if needs.creatives:
        wanted |= audiences - {"everyone"}
    facts: dict[str, Any] = {}
    if "tags" in wanted:
        facts["tags"] = frozenset(str(r[0]) for r in rows.get("tag", ()))
    if "tier" in wanted:
        tier = rows.get("tier")
        facts["tier"] = str(tier[0][0]) if tier and tier[0][0] else None
    if "lifecycle" in wanted:
        stage = rows.get("stage")
        facts["lifecycle_stage"] = str(stage[0][0]) if stage else None
    if "segment" in wanted:
        facts["segments"] = frozenset(int(r[5]) for r in rows.get("segment", ()))
    if "cluster" in wanted:
        cluster = rows.get("cluster")
        facts["cluster"] = int(cluster[0][5]) if cluster else None
    if needs.purchases:
        lines = sorted(rows.get("line", ()), key=lambda r: r[6])
        facts["recent_skus"] = tuple(dict.fromkeys(str(r[0]) for r in lines))
        bought: dict[str, int] = {}
        for _, category, _, _, _, quantity, _ in lines:
            if category:
                bought[str(category)] = bought.get(str(category), 0) + int(quantity)
        facts["categories"] = tuple(
            c for c, _ in sorted(bought.items(), key=lambda kv: (-kv[1], kv[0]))
        )
    return SlotMember(id=member_id, **facts)


async def _note_error(
    scope: BrandScope, feature: BrandFeature, error: str | None, now: datetime
) -> None:
    """Keep the slot's ``lastError`` in step; written only when it changes,
    so a healthy slot's page views never write."""
    if feature.last_error == error:
        return
    await (
        scope.query(BrandFeature)
        .filter(id=feature.id)
        .update(last_error=error, last_error_at=now if error else None)
    )
    feature.last_error = error
    feature.last_error_at = now if error else None
