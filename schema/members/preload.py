"""Loading what a page of members selects in one go, before the engine walks it.

A list resolver that calls ``preload`` after reading its page gives each
``Member`` its tags, statistics and clear phone and email as ready data: the
same queries the dataloaders would run (one per kind per page) and one
decryption per value. ``serve_ready_fields`` then resolves those fields with
plain functions that read the ready data, so a page of 100 members costs
neither an await nor strawberry's resolver wrapper (its ``Info``, argument
conversion and field-extension chain) per member and field, only the
engine's own per-field work (DESIGN.md, "Speed of the GraphQL layer")."""

from __future__ import annotations

import asyncio
from collections.abc import Callable, Iterable, Sequence
from typing import Any, cast

from graphql import GraphQLObjectType, GraphQLResolveInfo, GraphQLSchema
from strawberry.types import Info
from strawberry.types.nodes import FragmentSpread, InlineFragment, SelectedField, Selection

from tessera.members import pii
from tessera.schema.members.personal import shown
from tessera.schema.members.types import Member
from tessera.schema.tags.types import Tag
from tessera.tags.service import live_tags_of

Resolver = Callable[..., Any]
PERSONAL = ("phone", "email")


def selected_names(
    selections: Iterable[Selection], path: Sequence[str], directed: bool = False
) -> dict[str, bool]:
    """Names of the fields selected at ``path`` below ``selections``, looking
    through fragments (a field selected twice or under aliases counts once),
    each with whether a directive (``@include``, ``@skip``) stands on it or on
    a fragment or field around it anywhere along the path in one of its
    selections: whether such a field is answered is only known as the engine
    walks the document."""
    found: dict[str, bool] = {}
    for selection in selections:
        here = directed or bool(selection.directives)
        if isinstance(selection, FragmentSpread | InlineFragment):
            below = selected_names(selection.selections, path, here)
        elif isinstance(selection, SelectedField):
            if not path:
                below = {selection.name: here}
            elif selection.name == path[0]:
                below = selected_names(selection.selections, path[1:], here)
            else:
                continue
        else:
            continue
        for name, under_directive in below.items():
            found[name] = found.get(name, False) or under_directive
    return found


def fields_at(info: Info, path: Sequence[str]) -> dict[str, bool]:
    """The fields selected at ``path`` in the current field's selection (e.g.
    ``("edges", "node")``), as :func:`selected_names` gives them."""
    return selected_names(info.selected_fields, [info.field_name, *path])


async def preload(info: Info, members: Sequence[Member], wanted: dict[str, bool]) -> None:
    """Fill the fields of ``wanted`` (:func:`fields_at` the members) that
    have a batch form."""
    if not members:
        return
    pks = [member.pk for member in members]
    loads = []
    if "tags" in wanted:
        loads.append(_tags(info, members, pks))
    if "stats" in wanted:
        loads.append(_stats(info, members, pks))
    # Side by side, as the engine runs sibling dataloaders: each on its own
    # pool connection, so the page waits for the slowest, not their sum.
    await asyncio.gather(*loads)
    kinds = [kind for kind in PERSONAL if kind in wanted]
    if kinds:
        # Shown here, once per member and value, when the field is surely
        # answered; a field under @include or @skip is shown (and its read
        # noted) only if the engine resolves it.
        plain = [kind for kind in kinds if not wanted[kind]]
        for member in members:
            clear = {
                kind: pii.reveal_column(member.brand_pk, kind, getattr(member, f"{kind}_sealed"))
                for kind in kinds
            }
            member.clear = clear
            for kind in plain:
                setattr(member, f"ready_{kind}", shown(info, member.pk, kind, clear[kind]))


async def _tags(info: Info, members: Sequence[Member], pks: list[int]) -> None:
    tags = await live_tags_of(info.context.scope, pks)
    built: dict[int, Tag] = {}  # a page's members share few tags: build each once
    for member in members:
        member.ready_tags = [
            built.get(row["id"]) or built.setdefault(row["id"], Tag.from_row(row))
            for row in tags[member.pk]
        ]


async def _stats(info: Info, members: Sequence[Member], pks: list[int]) -> None:
    from tessera.orders.stats import StatsView
    from tessera.schema.orders.loaders import stats_loader
    from tessera.schema.orders.types import MemberStats

    currency = info.context.scope.brand.currency
    # The loader's batch function itself: the page's keys are one batch
    # already, which load_many would split into a future per member.
    views = await stats_loader(info).load_fn(pks)
    for member, view in zip(members, views, strict=True):
        member.ready_stats = MemberStats.from_view(cast("StatsView", view), currency)


def serve_ready_fields(schema: GraphQLSchema) -> None:
    """Resolve ``Member``'s preloaded fields from the ready data when a list
    resolver preloaded it, through the field's own resolver otherwise.

    graphql-core calls a field's ``resolve`` as it stands at execution, so
    this replaces strawberry's wrapper of those fields (built per field when
    the schema is) with a function that tries the ready data first and hands
    everything else to the wrapper it replaced. Masking and the audit of
    personal values go through :func:`shown` either way: in the preload for a
    field selected without directives (the engine then reads the shown value
    as a plain attribute), else as the field is resolved."""
    member = schema.type_map["Member"]
    assert isinstance(member, GraphQLObjectType)
    fields = member.fields
    for name, attribute in (("tags", "ready_tags"), ("stats", "ready_stats")):
        fields[name].resolve = _ready_or(attribute, _resolver(fields[name].resolve))
    for kind in PERSONAL:
        resolve = _shown_or(kind, _resolver(fields[kind].resolve))
        # Read directly by the engine when set (schema.engine's plain fields);
        # None (not preloaded, or no value) goes through ``resolve``.
        resolve.plain_attribute = f"ready_{kind}"  # type: ignore[attr-defined]
        fields[kind].resolve = resolve


def _resolver(resolve: Resolver | None) -> Resolver:
    assert resolve is not None, "a field with a resolver of its own"
    return resolve


def _ready_or(attribute: str, load: Resolver) -> Resolver:
    def resolve(source: Member, info: GraphQLResolveInfo, **kwargs: Any) -> Any:
        ready = getattr(source, attribute)
        return load(source, info, **kwargs) if ready is None else ready

    return resolve


def _shown_or(kind: str, load: Resolver) -> Resolver:
    def resolve(source: Member, info: GraphQLResolveInfo, **kwargs: Any) -> Any:
        clear = source.clear
        if clear is None or kind not in clear:
            return load(source, info, **kwargs)
        return shown(info, source.pk, kind, clear[kind])

    return resolve
