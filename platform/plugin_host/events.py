"""Domain events: facts about a brand that plugins may react to."""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import UTC, datetime
from typing import Any


@dataclass(frozen=True)
class DomainEvent:
    """Something that happened in one brand, delivered after its transaction commits.

    :param name: dotted name, e.g. ``member.joined``, ``order.recorded``,
        ``feature.changed``. The names are listed in docs/plugins.md.
    :param brand_id: the brand it happened in; only plugins with a component
        enabled on that brand receive it.
    :param payload: JSON-serialisable facts; ids are Tessera's integer ids of
        the rows named (``member_id``, ``order_id``...). A payload only ever
        gains keys.
    :param occurred_at: when the event was produced, in UTC.
    """

    name: str
    brand_id: int
    payload: dict[str, Any] = field(default_factory=dict)
    occurred_at: datetime = field(default_factory=lambda: datetime.now(UTC))
