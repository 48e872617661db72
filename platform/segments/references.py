"""Checking what a rule names in the brand's data before it is saved or
previewed: tags, tiers, custom attributes (and that values fit their types),
segments. The compiler itself reads nothing, so a stored rule whose tag is
later deleted keeps working (that condition matches no one); an operator
writing a rule is told about the mistake instead."""

from __future__ import annotations

from typing import Any

from tortoise.queryset import QuerySet

from tessera.errors import DomainError, DomainErrors
from tessera.members.attributes import AttributeType
from tessera.members.models import AttributeDefinition
from tessera.scope import BrandScope
from tessera.segments import rules as r
from tessera.segments.models import Segment
from tessera.tags.models import Tag
from tessera.tiers.models import TierDefinition

# Which rule values each attribute type takes.
_KINDS: dict[AttributeType, r.ValueKind] = {
    AttributeType.STRING: "text",
    AttributeType.ENUM: "text",
    AttributeType.DATE: "text",
    AttributeType.NUMBER: "number",
    AttributeType.BOOLEAN: "boolean",
}
_NAMES = {"text": "text", "number": "a number", "boolean": "true or false"}


async def check_references(scope: BrandScope, rule: r.Rule, field: list[str] | None = None) -> None:
    """Raise :class:`DomainErrors` naming every tag, tier, attribute or segment the
    brand does not have, and every attribute value that does not fit its type.
    One query per kind of name used."""
    base = ["rule"] if field is None else field
    nodes = list(r.walk(rule, base))
    codes = {c for _, n, _ in nodes if isinstance(n, r.TagsCondition) for c in n.codes}
    keys = {n.key for _, n, _ in nodes if isinstance(n, r.AttributeCondition)}
    tier_codes = {c for _, n, _ in nodes if isinstance(n, r.TierCondition) for c in _tiers(n)}
    segment_ids = {n.segment for _, n, _ in nodes if isinstance(n, r.SegmentCondition)}
    tags: set[str] = set()
    if codes:
        tags = set(await _column(scope.query(Tag).filter(code__in=sorted(codes)), "code"))
    tiers: set[str] = set()
    if tier_codes:
        tiers = set(
            await _column(scope.query(TierDefinition).filter(code__in=sorted(tier_codes)), "code")
        )
    definitions: dict[str, AttributeDefinition] = {}
    if keys:
        definitions = {
            d.key: d for d in await scope.query(AttributeDefinition).filter(key__in=sorted(keys))
        }
    segments: set[int] = set()
    if segment_ids:
        segments = set(await _column(scope.query(Segment).filter(id__in=sorted(segment_ids)), "id"))
    errors: list[DomainError] = []
    for path, node, _ in nodes:
        if isinstance(node, r.TagsCondition):
            missing = [c for c in node.codes if c not in tags]
            if missing:
                errors.append(
                    DomainError(
                        "UNKNOWN_TAG", f"no tag with code {', '.join(missing)}", [*path, "codes"]
                    )
                )
        elif isinstance(node, r.AttributeCondition):
            errors.extend(_attribute_problems(node, definitions.get(node.key), path))
        elif isinstance(node, r.TierCondition):
            missing = [c for c in _tiers(node) if c not in tiers]
            if missing:
                name = "in" if node.in_ is not None else "atLeast"
                errors.append(
                    DomainError(
                        "UNKNOWN_TIER", f"no tier with code {', '.join(missing)}", [*path, name]
                    )
                )
        elif isinstance(node, r.SegmentCondition) and node.segment not in segments:
            errors.append(DomainError("NOT_FOUND", "no such segment", [*path, "segment"]))
    if errors:
        raise DomainErrors(errors)


def _tiers(node: r.TierCondition) -> list[str]:
    return list(node.in_) if node.in_ is not None else [node.at_least or ""]


async def _column(query: QuerySet[Any], name: str) -> list[Any]:
    return list(await query.values_list(name, flat=True))


def _attribute_problems(
    node: r.AttributeCondition, definition: AttributeDefinition | None, path: list[str]
) -> list[DomainError]:
    if definition is None:
        return [
            DomainError("UNKNOWN_ATTRIBUTE", f"no custom attribute {node.key!r}", [*path, "key"])
        ]
    kind = AttributeType(definition.type)
    where = [
        *path,
        "equals" if node.equals is not None else "in" if node.in_ is not None else "min",
    ]
    if node.value_kind != _KINDS[kind]:
        return [DomainError("INVALID", f"{node.key} is {_NAMES[_KINDS[kind]]}", where)]
    if node.is_range and kind not in (AttributeType.NUMBER, AttributeType.DATE):
        return [DomainError("INVALID", f"{node.key} has no range", where)]
    problems: list[DomainError] = []
    for value in node.values:
        if kind is AttributeType.DATE and not r.is_iso_date(value):
            problems.append(DomainError("INVALID", f"{node.key} is a date like 2024-12-31", where))
        if kind is AttributeType.ENUM and value not in definition.allowed_values:
            allowed = ", ".join(definition.allowed_values)
            problems.append(DomainError("INVALID", f"{node.key} is one of {allowed}", where))
    return problems[:1]
