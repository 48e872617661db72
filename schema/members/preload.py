"""Loading what a page of members selects in one go, before the engine walks it.

A list resolver that calls ``preload`` after reading its page gives each
``Member`` its tags and statistics as ready data: the same queries the
dataloaders would run (one per kind per page), without an await per member
and field (DESIGN.md, "Speed of the GraphQL layer")."""

from __future__ import annotations

import asyncio
from collections.abc import Iterable, Sequence

from strawberry.types import Info
from strawberry.types.nodes import FragmentSpread, InlineFragment, SelectedField, Selection

from tessera.schema.members.types import Member
from tessera.schema.tags.types import Tag
from tessera.tags.service import live_tags_of


def selected_names(selections: Iterable[Selection], path: Sequence[str]) -> set[str]:
    """Names of the fields selected at ``path`` below ``selections``, looking
    through fragments (a field selected twice or under aliases counts once)."""
    found: set[str] = set()
    for selection in selections:
        if isinstance(selection, FragmentSpread | InlineFragment):
            found |= selected_names(selection.selections, path)
        elif isinstance(selection, SelectedField):
            if not path:
                found.add(selection.name)
            elif selection.name == path[0]:
                found |= selected_names(selection.selections, path[1:])
    return found


async def preload(info: Info, members: Sequence[Member], path: Sequence[str]) -> None:
    """Fill the fields selected on ``members`` (found at ``path`` in the
    current field's selection, e.g. ``("edges", "node")``) that have a batch
    form."""
    if not members:
        return
    wanted = selected_names(info.selected_fields, [info.field_name, *path])
    pks = [member.pk for member in members]
    loads = []
    if "tags" in wanted:
        loads.append(_tags(info, members, pks))
    if "stats" in wanted:
        loads.append(_stats(info, members, pks))
    # Side by side, as the engine runs sibling dataloaders: each on its own
    # pool connection, so the page waits for the slowest, not their sum.
    await asyncio.gather(*loads)


async def _tags(info: Info, members: Sequence[Member], pks: list[int]) -> None:
    tags = await live_tags_of(info.context.scope, pks)
    built: dict[int, Tag] = {}  # a page's members share few tags: build each once
    for member in members:
        member.ready_tags = [
            built.get(row["id"]) or built.setdefault(row["id"], Tag.from_row(row))
            for row in tags[member.pk]
        ]


async def _stats(info: Info, members: Sequence[Member], pks: list[int]) -> None:
    from tessera.schema.orders.loaders import stats_loader
    from tessera.schema.orders.types import MemberStats

    currency = info.context.scope.brand.currency
    views = await stats_loader(info).load_many(pks)
    for member, view in zip(members, views, strict=True):
        member.ready_stats = MemberStats.from_view(view, currency)
