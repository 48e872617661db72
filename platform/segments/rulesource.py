"""Where segments and rule tags meet the rule language: a rule (JSON) checked
as an operator writes it, and a stored rule compiled into the
:class:`~tessera.segments.materialise.Source` of the members it matches."""

from __future__ import annotations

import inspect
from dataclasses import dataclass
from datetime import UTC, date, datetime
from typing import Any

from tessera.errors import DomainError
from tessera.members.models import Member
from tessera.scope import BrandScope
from tessera.segments import compiler
from tessera.segments.materialise import Source
from tessera.segments.references import check_references
from tessera.segments.rules import Rule, parse_rule, reads_clock, referenced_segments
from tessera.segments.timewindows import as_of_instant

MAX_SAMPLE = 100


@dataclass(frozen=True)
class CheckedRule:
    rule: Rule
    references: set[int]
    reads_clock: bool


def parsed(data: Any) -> CheckedRule:
    """A stored rule, parsed (``DomainErrors`` naming paths under ``rule``)."""
    rule = parse_rule(data)
    return CheckedRule(rule, referenced_segments(rule), reads_clock(rule))


async def check_rule(scope: BrandScope, data: Any, field: list[str] | None = None) -> CheckedRule:
    """A rule as an operator gave it: valid, naming only what the brand has
    (tags, attributes, segments), and compilable (amounts its currency can
    hold). Every problem is a ``DomainErrors`` naming its path."""
    rule = parse_rule(data, field)
    await check_references(scope, rule, field)
    await _compile(scope, rule, datetime.now(UTC), None)
    return CheckedRule(rule, referenced_segments(rule), reads_clock(rule))


async def _compile(scope: BrandScope, rule: Rule, now: datetime, connection: Any) -> Source:
    compiled = compiler.compile_member_ids(scope, rule, now, connection=connection)
    if inspect.isawaitable(compiled):
        compiled = await compiled
    sql, params = compiled
    return Source(sql, list(params))


async def rule_source(
    scope: BrandScope, data: Any, now: datetime, connection: Any = None
) -> Source:
    """The members matching the stored rule ``data`` at ``now``; "member of
    segment X" conditions read X's stored membership."""
    return await _compile(scope, parse_rule(data), now, connection)


async def preview(
    scope: BrandScope, rule: Rule, sample: int = 10, as_of: date | None = None
) -> tuple[int, list[Member]]:
    """What ``previewSegment`` answers, for the API and the admin UI alike:
    how many members the parsed ``rule`` selects now (or as of the end of
    ``as_of`` on the brand's calendar) and up to ``sample`` of them, newest
    first, saving nothing. Names the rule uses are checked against the brand."""
    if not 0 <= sample <= MAX_SAMPLE:
        raise DomainError("INVALID", f"sample is 0 to {MAX_SAMPLE}", ["sample"])
    await check_references(scope, rule)
    now = datetime.now(UTC)
    if as_of is not None:
        now = as_of_instant(as_of, scope.brand.timezone, now)
    return await compiler.count_and_sample(scope, rule, now, sample, as_of=as_of is not None)
