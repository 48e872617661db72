"""Plain attribute fields answered directly (``tessera.schema.engine.
TesseraExecutionContext``) answer as graphql-core completes them: the same
data and, for a value it cannot answer (a null where none may be, a value a
scalar or enum refuses, an error, another iterable), the same errors at the
same paths."""

from __future__ import annotations

import asyncio
import enum
from datetime import UTC, datetime
from decimal import Decimal
from typing import Any

import strawberry
from graphql import GraphQLError
from hypothesis import given
from hypothesis import strategies as st
from strawberry.extensions import SchemaExtension
from strawberry.schema.schema import StrawberryGraphQLCoreExecutionContext
from strawberry.schema.schema_converter import CustomGraphQLEnumType

from tessera.schema import engine
from tessera.schema.engine import TesseraExecutionContext, plain_attribute_resolvers


@strawberry.enum
class Colour(enum.Enum):
    RED = "red"
    BLUE = "blue"


@strawberry.type
class Leaf:
    code: str


@strawberry.type
class Thing:
    number: int
    maybe_number: int | None
    text: str
    flag: bool
    ratio: float
    ident: strawberry.ID
    colour: Colour
    amount: Decimal
    at: datetime
    texts: list[str]
    maybe_texts: list[str | None] | None
    leaves: list[Leaf]
    leaf: Leaf | None


# What an attribute may hold, right for its type or not.
_ANY = st.one_of(
    st.none(),
    st.integers(-(2**40), 2**40),
    st.booleans(),
    st.floats(allow_nan=True, allow_infinity=True),
    st.text(max_size=3),
    st.sampled_from(list(Colour)),
    st.sampled_from(["RED", "red", Colour.BLUE.value]),
    st.decimals(allow_nan=False, allow_infinity=False, places=2),
    st.just(datetime(2025, 4, 1, 9, tzinfo=UTC)),
    st.just(ValueError("boom")),
    st.just(object()),
)
_LISTS = st.one_of(
    st.lists(st.one_of(st.none(), st.text(max_size=2), st.integers(-5, 5)), max_size=3),
    st.tuples(st.text(max_size=2)),
    st.none(),
    st.just("ab"),
)
_LEAVES = st.one_of(
    st.lists(st.builds(Leaf, code=st.one_of(st.text(max_size=2), st.none())), max_size=2),
    st.just(()),
    st.none(),
)

QUERY = """{
  thing { number maybeNumber text flag ratio ident colour amount at
          texts maybeTexts leaves { code } leaf { code } again: number
          skipped: text @skip(if: true) included: flag @include(if: true) }
  things { number texts leaves { code } }
}"""


def _schema(thing: Thing, things: list[Any], extensions: list[Any]) -> strawberry.Schema:
    @strawberry.type
    class Query:
        @strawberry.field
        def thing(self) -> Thing:
            return thing

        @strawberry.field
        def things(self) -> list[Thing | None]:
            return things

    schema = strawberry.Schema(
        query=Query, execution_context_class=TesseraExecutionContext, extensions=extensions
    )
    plain_attribute_resolvers(schema._schema)
    return schema


def _answers(schema: strawberry.Schema) -> Any:
    result = asyncio.run(schema.execute(QUERY))
    errors = sorted(
        (e.message, tuple(map(str, e.path or ())))
        for e in (result.errors or [])
        if isinstance(e, GraphQLError)
    )
    return result.data, errors


def _thing(values: list[Any], texts: Any, maybe_texts: Any, leaves: Any, leaf: Any) -> Thing:
    thing = Thing.__new__(Thing)
    names = ["number", "maybe_number", "text", "flag", "ratio", "ident", "colour", "amount", "at"]
    thing.__dict__.update(zip(names, values, strict=True))
    thing.__dict__.update(texts=texts, maybe_texts=maybe_texts, leaves=leaves, leaf=leaf)
    return thing


_THINGS = st.builds(
    _thing, st.lists(_ANY, min_size=9, max_size=9), _LISTS, _LISTS, _LEAVES, st.none()
)


@given(_THINGS, st.lists(st.one_of(st.none(), _THINGS), max_size=3))
def test_plain_attributes_answer_as_graphql_core_completes_them(thing, things):
    schema = _schema(thing, things, [])
    ours = _answers(schema)
    original = TesseraExecutionContext.execute_field
    try:
        TesseraExecutionContext.execute_field = StrawberryGraphQLCoreExecutionContext.execute_field  # type: ignore[method-assign]
        library = _answers(schema)
    finally:
        TesseraExecutionContext.execute_field = original  # type: ignore[method-assign]
    assert ours == library


def _well_typed() -> Thing:
    return Thing(
        number=1,
        maybe_number=None,
        text="t",
        flag=True,
        ratio=0.5,
        ident=strawberry.ID("x"),
        colour=Colour.RED,
        amount=Decimal("1.50"),
        at=datetime(2025, 4, 1, tzinfo=UTC),
        texts=["a"],
        maybe_texts=None,
        leaves=[],
        leaf=None,
    )


def _graphql_cores_way(monkeypatch: Any, schema: strawberry.Schema) -> list[str]:
    """The fields graphql-core's ``execute_field`` answered."""
    slow: list[str] = []
    original = StrawberryGraphQLCoreExecutionContext.execute_field

    def counted(self: Any, parent_type: Any, *args: Any) -> Any:
        slow.append(f"{parent_type.name}.{args[1][0].node.name.value}")
        return original(self, parent_type, *args)

    monkeypatch.setattr(StrawberryGraphQLCoreExecutionContext, "execute_field", counted)
    data, errors = _answers(schema)
    assert errors == []
    assert data["thing"]["amount"] == "1.50" and data["thing"]["colour"] == "RED"
    return sorted(slow)


def test_well_typed_values_are_answered_directly(monkeypatch):
    # The roots (resolvers), nulls, an object and a field with a directive
    # (`included: flag`) go graphql-core's way.
    assert _graphql_cores_way(monkeypatch, _schema(_well_typed(), [], [])) == [
        "Query.thing",
        "Query.things",
        "Thing.flag",
        "Thing.leaf",
        "Thing.maybeNumber",
        "Thing.maybeTexts",
    ]


class Middleware(SchemaExtension):
    def resolve(self, _next: Any, root: Any, info: Any, *args: Any, **kwargs: Any) -> Any:
        return _next(root, info, *args, **kwargs)


def test_under_a_middleware_every_field_goes_graphql_cores_way(monkeypatch):
    schema = _schema(_well_typed(), [], [Middleware])
    assert engine._plain_fields(schema._schema)["Thing"]
    assert len(_graphql_cores_way(monkeypatch, schema)) == 17


def test_a_field_whose_resolver_was_replaced_is_left_to_it():
    schema = _schema(_well_typed(), [], [])
    schema._schema.type_map["Thing"].fields["number"].resolve = lambda *_: 7  # type: ignore[attr-defined]
    assert asyncio.run(schema.execute("{ thing { number } }")).data == {"thing": {"number": 7}}


def test_an_enum_member_is_named_without_strawberrys_search_of_the_values(monkeypatch):
    searched: list[Any] = []
    search = CustomGraphQLEnumType.coerce_output_value

    def counted(self: Any, value: Any) -> Any:
        searched.append(value)
        return search(self, value)

    monkeypatch.setattr(CustomGraphQLEnumType, "coerce_output_value", counted)
    thing = _well_typed()
    schema = _schema(thing, [], [])
    assert asyncio.run(schema.execute("{ thing { colour } }")).data == {"thing": {"colour": "RED"}}
    assert searched == []
    # What is not a member of the enum is the enum type's own to answer.
    thing.colour = "blue"  # type: ignore[assignment]
    assert asyncio.run(schema.execute("{ thing { colour } }")).data == {"thing": {"colour": "BLUE"}}
    assert searched == ["blue"]


class AwaitableText(str):
    """A value of a builtin's subclass that is awaitable: not taken for the builtin."""

    def __await__(self) -> Any:
        yield from asyncio.sleep(0).__await__()
        return "awaited"


def test_awaitable_values_are_awaited_whatever_type_they_subclass():
    async def half() -> float:
        return 0.5

    thing = _well_typed()
    thing.ratio = half()  # type: ignore[assignment]
    thing.text = AwaitableText("raw")
    data, errors = _answers(_schema(thing, [], []))
    assert errors == []
    assert data["thing"]["ratio"] == 0.5 and data["thing"]["text"] == "awaited"
