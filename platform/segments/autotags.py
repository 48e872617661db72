"""Automatic tags: a tag that carries a rule is on exactly the members the
rule matches, as assignments with source ``rule``.

Only ``rule`` assignments are ever added or removed here: the same tag put on
by an operator (``manual``), an import or a plugin stays whatever the rule
says. Evaluation is the segments' materialisation with the tag's rule
assignments as the stored set, so it runs in SQL for the whole brand (a job)
or for a few members whose facts changed.
"""

from __future__ import annotations

from collections.abc import Sequence
from datetime import UTC, datetime
from typing import Any

from tessera.errors import DomainError
from tessera.scope import BrandScope
from tessera.segments import materialise
from tessera.segments.materialise import Diff, Target
from tessera.segments.rulesource import check_rule, rule_source
from tessera.tags.models import Tag, TagAssignment
from tessera.tags.service import TagSource, require_tag
from tessera.uow import UnitOfWork, unit_of_work


def rule_target(tag_id: int) -> Target:
    return Target(
        TagAssignment._meta.db_table,
        {"tag_id": tag_id, "source": TagSource.RULE.value},
        "created_at",
        ("brand_id", "tag_id", "member_id", "source"),
    )


async def set_tag_rule(scope: BrandScope, tag_id: int, rule: dict[str, Any] | None) -> Tag:
    """Give the tag a rule (``None`` takes it away, and with it every ``rule``
    assignment of the tag). The caller enqueues :func:`evaluate_tag` after."""
    tag = await require_tag(scope, tag_id)
    if rule is not None:
        await check_rule(scope, rule)
    async with unit_of_work(scope) as uow:
        tag.rule = rule
        await tag.save(using_db=uow.connection, update_fields=["rule", "updated_at"])
        if rule is None:
            diff = await materialise.apply(
                uow.connection,
                scope.brand_id,
                rule_target(tag.id),
                materialise.ids_source([], uow.connection.capabilities.dialect),
                datetime.now(UTC),
            )
            _emit(uow, tag, diff)
    return tag


async def rule_tags(scope: BrandScope, connection: Any = None) -> list[Tag]:
    return list(
        await scope.query(Tag).using_db(connection).filter(rule__isnull=False).order_by("id")
    )


def _emit(uow: UnitOfWork, tag: Tag, diff: Diff) -> None:
    # The tags domain's own event, so tag listeners need not know about rules.
    for action, ids in (("tagged", diff.entered_ids), ("untagged", diff.exited_ids)):
        if ids:
            uow.emit(
                "tags.changed",
                action=action,
                tags=[tag.code],
                source=TagSource.RULE.value,
                member_ids=ids,
            )


async def evaluate_tag(scope: BrandScope, tag_id: int, now: datetime | None = None) -> Diff:
    """Put the tag on every member its rule matches and take it off the others."""
    tag = await require_tag(scope, tag_id)
    if tag.rule is None:
        raise DomainError("NO_RULE", f"tag {tag.code!r} has no rule", ["id"])
    now = now or datetime.now(UTC)
    async with unit_of_work(scope) as uow:
        diff = await materialise.apply(
            uow.connection,
            scope.brand_id,
            rule_target(tag.id),
            await rule_source(scope, tag.rule, now, uow.connection),
            now,
        )
        _emit(uow, tag, diff)
    return diff


async def evaluate_all(scope: BrandScope, now: datetime | None = None) -> dict[str, Diff]:
    """Every rule tag of the brand, for everyone; the changes by tag code."""
    return {tag.code: await evaluate_tag(scope, tag.id, now) for tag in await rule_tags(scope)}


async def evaluate_members(
    scope: BrandScope, member_ids: Sequence[int], now: datetime | None = None
) -> dict[str, Diff]:
    """Every rule tag, for ``member_ids`` only (their facts changed)."""
    if not member_ids:
        return {}
    now = now or datetime.now(UTC)
    changes: dict[str, Diff] = {}
    async with unit_of_work(scope) as uow:
        for tag in await rule_tags(scope, uow.connection):
            diff = await materialise.apply(
                uow.connection,
                scope.brand_id,
                rule_target(tag.id),
                await rule_source(scope, tag.rule, now, uow.connection),
                now,
                only=member_ids,
            )
            if diff.entered or diff.exited:
                changes[tag.code] = diff
                _emit(uow, tag, diff)
    return changes
