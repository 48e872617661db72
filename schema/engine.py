"""What Tessera sets on the GraphQL engine under strawberry once a schema is built.

Strawberry resolves a field without a resolver of its own (a plain attribute)
through ``field.get_result``, two properties and the configured default
resolver: four Python calls per field where reading the attribute is one. A
page of 100 members resolves some 2,800 fields, so those calls are a share of
the engine floor itself (DESIGN.md, "Speed of the GraphQL layer").

Input objects the other way round: strawberry converts graphql-core's coerced
value of an input object field by field, resolving each field's type and
GraphQL name again for every value; :class:`InputPlan` does that once per type
(a ``recordOrders`` batch of 1,000 orders is some 6,000 input objects).

Before either, graphql-core coerces the request's variables: for every value
it asks again whether its type is non-null, a list, an input object, and
first walks the whole value once more to see it is not nested too deeply.
:func:`planned_variables` gives it a coercion per variable type worked out
once (:class:`VariablePlans`); anything the plan does not take as it is
(an error, a missing variable, a default) goes to graphql-core's own.

And the answer: for a plain attribute of a scalar or enum type graphql-core
still builds the resolver's info, looks the field up again and dispatches
its completion through five checks; :class:`TesseraExecutionContext` reads
and serialises such a value directly (a ``recordOrders`` answer of 1,000
orders is 3,000 of them), and leaves everything else, errors and nulls
included, to graphql-core."""

from __future__ import annotations

import contextlib
from collections.abc import Awaitable, Callable, Collection, Mapping
from dataclasses import MISSING
from datetime import date, datetime, time
from decimal import Decimal
from enum import Enum
from typing import Any, TypeGuard
from weakref import WeakKeyDictionary

from graphql import (
    GraphQLError,
    GraphQLInputObjectType,
    GraphQLInputType,
    GraphQLLeafType,
    GraphQLList,
    GraphQLNonNull,
    GraphQLObjectType,
    GraphQLScalarType,
    GraphQLSchema,
    Undefined,
    VariableDefinitionNode,
    get_nullable_type,
    is_leaf_type,
    is_required_input_field,
)
from graphql.execution import executor as graphql_executor
from graphql.execution.executor import FieldDetailsList
from graphql.execution.get_variable_signature import get_variable_signature
from graphql.execution.values import VariableValues, VariableValueSource, get_variable_values
from graphql.language.parser import MAX_NESTING_DEPTH
from graphql.pyutils import Path, is_iterable
from graphql.type.scalars import coerce_string
from graphql.utilities.coerce_input_value import coerce_default_value
from strawberry.relay.types import GlobalID
from strawberry.scalars import is_scalar
from strawberry.schema.config import StrawberryConfig
from strawberry.schema.schema import StrawberryGraphQLCoreExecutionContext
from strawberry.schema.schema_converter import CustomGraphQLEnumType
from strawberry.types.arguments import InputContext
from strawberry.types.base import (
    StrawberryList,
    StrawberryMaybe,
    StrawberryObjectDefinition,
    StrawberryOptional,
    has_object_definition,
)
from strawberry.types.enum import StrawberryEnumDefinition, has_enum_definition
from strawberry.types.field import StrawberryField
from strawberry.types.lazy_type import LazyType
from strawberry.types.unset import UNSET

# strawberry's resolver of a basic field (schema_converter.from_resolver); any
# other (a resolver, permissions, field extensions, exception handlers) is kept.
_STRAWBERRY_BASIC = "_get_basic_result"


# A scalar or enum type's serialisation of one value.
Coerce = Callable[[Any], Any]
# How TesseraExecutionContext answers a plain attribute field: its value, a
# list of its values, or an empty list only (a list of anything else).
_LEAF, _LEAVES, _EMPTY = 0, 1, 2
# by schema: object type name -> field name -> (attribute, how, its scalar or
# enum type's coercion or None), for the plain attribute fields it answers
_PLAIN_FIELDS: WeakKeyDictionary[
    GraphQLSchema, dict[str, dict[str, tuple[str, int, Coerce | None]]]
] = WeakKeyDictionary()


def plain_attribute_resolvers(schema: GraphQLSchema) -> None:
    """Resolve every plain attribute field by reading the attribute."""
    for named in schema.type_map.values():
        if not isinstance(named, GraphQLObjectType) or named.name.startswith("__"):
            continue
        for field in named.fields.values():
            definition = (field.extensions or {}).get("strawberry-definition")
            if (
                isinstance(definition, StrawberryField)
                and getattr(field.resolve, "__name__", None) == _STRAWBERRY_BASIC
                and definition.is_basic_field
                and definition.default_resolver is getattr
            ):
                field.resolve = _attribute(definition.python_name)
    _PLAIN_FIELDS.pop(schema, None)


def _plain_fields(
    schema: GraphQLSchema,
) -> dict[str, dict[str, tuple[str, int, Coerce | None]]]:
    """The fields :class:`TesseraExecutionContext` answers, from the resolvers
    in place at the schema's first execution (a field whose resolver was
    replaced after :func:`plain_attribute_resolvers` is not one of them)."""
    try:
        return _PLAIN_FIELDS[schema]
    except KeyError:
        pass
    plain: dict[str, dict[str, tuple[str, int, Coerce | None]]] = {}
    for named in schema.type_map.values():
        if isinstance(named, GraphQLObjectType):
            for name, field in named.fields.items():
                attribute = getattr(field.resolve, "plain_attribute", None)
                if isinstance(attribute, str) and not field.args:
                    plain.setdefault(named.name, {})[name] = (attribute, *_answered(field.type))
    _PLAIN_FIELDS[schema] = plain
    return plain


def _answered(type_: Any) -> tuple[int, Coerce | None]:
    nullable = get_nullable_type(type_)
    if isinstance(nullable, GraphQLList):
        item = get_nullable_type(nullable.of_type)
        return (_LEAVES, _coercion(item)) if is_leaf_type(item) else (_EMPTY, None)
    return (_LEAF, _coercion(nullable)) if is_leaf_type(nullable) else (_EMPTY, None)


def _coercion(leaf: GraphQLLeafType) -> Coerce:
    """``leaf.coerce_output_value``; for an enum of strawberry's, a lookup of
    the member's name first: strawberry's own compares the value with each of
    the enum's in turn (two enums on every member of a page)."""
    coerce = leaf.coerce_output_value
    if not isinstance(leaf, CustomGraphQLEnumType) or not issubclass(leaf.wrapped_cls, Enum):
        return coerce
    wrapped = leaf.wrapped_cls
    names = {wrapped(value.value): name for name, value in leaf.values.items()}
    if not hasattr(wrapped, "__await__"):
        _NEVER_AWAITABLE.add(wrapped)

    def coerce_member(value: Any) -> Any:
        if type(value) is wrapped:
            name = names.get(value)
            if name is not None:
                return name
        return coerce(value)

    return coerce_member


# Types whose values are never awaitable: strawberry's check answers the
# builtins at once, anything else with two isinstance calls and a failed
# attribute look-up (a page's Decimals, times and enums, some 500 a page).
# TesseraExecutionContext's check answers all of these at once; the schemas'
# enums join as their coercions are made (_coercion). None is left out: a
# plain field's None goes to graphql-core (TesseraExecutionContext._leaf).
_NEVER_AWAITABLE: set[type] = {
    *(bool, int, float, str, bytes, list, tuple, dict, set, frozenset),
    *(Decimal, datetime, date, time),
}


def _probe(_source: Any, _info: Any) -> None:
    """A resolver no middleware has wrapped (see TesseraExecutionContext)."""


class TesseraExecutionContext(StrawberryGraphQLCoreExecutionContext):
    """graphql-core's executor, with a plain attribute field
    (:func:`plain_attribute_resolvers`) of a scalar or enum type, or a list of
    them, read and serialised directly when it holds values, and an empty
    list of anything answered as one: what ``execute_field`` would do, without
    the resolver's info and the completion's dispatch for each value. Whatever
    else it holds (None, an error, an awaitable, a value the type does not
    serialise, another iterable, a non-empty list of objects), a field with
    arguments or directives and any field under a middleware take
    graphql-core's way, which answers or words the error as ever."""

    def __init__(self, *args: Any, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        given = self.is_awaitable

        def is_awaitable(value: Any) -> TypeGuard[Awaitable[Any]]:
            return type(value) not in _NEVER_AWAITABLE and given(value)

        self.is_awaitable = is_awaitable
        manager = self.middleware_manager
        wrapped = manager is not None and manager.get_field_resolver(_probe) is not _probe
        self.plain_fields = {} if wrapped else _plain_fields(self.schema)

    def execute_field(
        self,
        parent_type: GraphQLObjectType,
        source: Any,
        field_details_list: FieldDetailsList,
        path: Path,
        position_context: Any,
    ) -> Any:
        fields = self.plain_fields.get(parent_type.name)
        if fields is not None:
            node = field_details_list[0].node
            plain = fields.get(node.name.value)
            if plain is not None and not node.arguments and not node.directives:
                try:
                    answer = self._answer(getattr(source, plain[0]), plain[1], plain[2])
                except Exception:  # graphql-core's way raises and reports it
                    pass
                else:
                    if answer is not Undefined:
                        return answer
        return super().execute_field(
            parent_type, source, field_details_list, path, position_context
        )

    def _answer(self, value: Any, how: int, coerce: Coerce | None) -> Any:
        """The completed value, or Undefined for graphql-core to complete it."""
        if how == _LEAF:
            return self._leaf(value, coerce)
        if type(value) is not list:
            return Undefined
        if how == _EMPTY:
            return [] if not value else Undefined
        answer = []
        for item in value:
            coerced = self._leaf(item, coerce)
            if coerced is Undefined:
                return Undefined
            answer.append(coerced)
        return answer

    def _leaf(self, value: Any, coerce: Any) -> Any:
        if type(value) not in _NEVER_AWAITABLE and (
            value is None or isinstance(value, Exception) or self.is_awaitable(value)
        ):
            return Undefined
        coerced = coerce(value)
        return Undefined if coerced is None else coerced


def _attribute(name: str) -> Callable[..., Any]:
    def resolve(source: Any, _info: Any) -> Any:
        return getattr(source, name)

    resolve._is_default = True  # type: ignore[attr-defined]  # as strawberry marks its own
    resolve.plain_attribute = name  # type: ignore[attr-defined]  # see _plain_fields
    return resolve


class InputPlan:
    """Builds one input type's value from its coerced GraphQL value, as
    strawberry's ``convert_argument`` does, with the work strawberry repeats for
    every value done once: each field's GraphQL name, its resolved type and how
    to convert it (strawberry resolves the type and camel-cases the name for
    every field of every value: ~40,000 times for a ``recordOrders`` batch).

    It is the type's ``from_input`` (strawberry's hook for types that build
    their own value). Planned for one schema's scalars and config; another
    schema built from the same classes (tests build several) gets strawberry's
    field-by-field conversion (:func:`_generic`) until it is planned in its turn."""

    def __init__(
        self,
        definition: StrawberryObjectDefinition,
        registry: Mapping[object, Any],
        config: StrawberryConfig,
    ) -> None:
        self.registry = registry
        self.config = config
        # Fields without a default are None unless given, as strawberry sets
        # them (graphql-core has refused a missing required one already).
        self.blank = {
            f.python_name: None
            for f in definition.fields
            if f.default_value is MISSING and f.default_factory is MISSING
        }
        self.fields: list[tuple[str, str, Callable[[Any], Any] | None]] = []

    def __call__(self, cls: type, value: Mapping[str, Any], context: InputContext) -> Any:
        if context.scalar_registry is not self.registry or context.config is not self.config:
            return _generic(cls, value, context)
        return self.build(cls, value)

    def build(self, cls: type, value: Mapping[str, Any]) -> Any:
        kwargs = self.blank.copy()
        for name, python_name, convert in self.fields:
            if name in value:
                item = value[name]
                if convert is None or item is None or item is UNSET:
                    kwargs[python_name] = item
                else:
                    kwargs[python_name] = convert(item)
        return cls(**kwargs)


def _generic(cls: type, value: Mapping[str, Any], context: InputContext) -> Any:
    """strawberry's conversion of an input object (``convert_argument``, the
    branch for types without ``from_input``), field by field."""
    definition = cls.__strawberry_definition__  # type: ignore[attr-defined]
    kwargs: dict[str, Any] = {
        f.python_name: None
        for f in definition.fields
        if f.default_value is MISSING and f.default_factory is MISSING
    }
    for field in definition.fields:
        name = context.config.name_converter.from_field(field)
        if name in value:
            field_type = field.resolve_type(type_definition=definition)
            kwargs[field.python_name] = context.convert(value[name], field_type, name)
    return cls(**kwargs)


class _NotPlanned(Exception):
    """A field this module does not convert itself (a Maybe, a GlobalID, an input
    type with a ``from_input`` of its own, a generic): its type keeps strawberry's
    conversion."""


def planned_inputs(schema: Any) -> None:
    """Give each input type of a built strawberry schema its :class:`InputPlan`."""
    registry = schema.schema_converter.scalar_registry
    planner = _Planner(registry, schema.config)
    for named in schema._schema.type_map.values():
        if isinstance(named, GraphQLInputObjectType):
            definition = (named.extensions or {}).get("strawberry-definition")
            if isinstance(definition, StrawberryObjectDefinition):
                planner.plan(definition)
    for definition, plan in planner.final():
        if definition.from_input is None or isinstance(definition.from_input, InputPlan):
            definition.from_input = plan


class _Planner:
    def __init__(self, registry: Mapping[object, Any], config: StrawberryConfig) -> None:
        self.registry = registry
        self.config = config
        # by id(definition): the definition, its plan (None: not planned) and
        # the definitions its plan builds values of
        self.plans: dict[int, tuple[StrawberryObjectDefinition, InputPlan | None, list[int]]] = {}

    def plan(self, definition: StrawberryObjectDefinition) -> InputPlan | None:
        known = self.plans.get(id(definition))
        if known is not None:  # planned, or being planned (a type that contains itself)
            return known[1]
        if (
            not definition.is_input
            or definition.is_graphql_generic
            or not (definition.from_input is None or isinstance(definition.from_input, InputPlan))
        ):
            self.plans[id(definition)] = (definition, None, [])
            return None
        plan = InputPlan(definition, self.registry, self.config)
        nested: list[int] = []
        self.plans[id(definition)] = (definition, plan, nested)
        try:
            for field in definition.fields:
                field_type = field.resolve_type(type_definition=definition)
                convert = self._converter(field_type, nested)
                name = self.config.name_converter.from_field(field)
                plan.fields.append((name, field.python_name, convert))
        except _NotPlanned:
            self.plans[id(definition)] = (definition, None, [])
            return None
        return plan

    def final(self) -> list[tuple[StrawberryObjectDefinition, InputPlan | None]]:
        """Each definition with its plan, None for a plan that builds a type
        left to strawberry (however deep)."""
        changed = True
        while changed:
            changed = False
            for key, (definition, plan, nested) in self.plans.items():
                if plan is not None and any(self.plans[n][1] is None for n in nested):
                    self.plans[key] = (definition, None, [])
                    changed = True
        return [(definition, plan) for definition, plan, _ in self.plans.values()]

    def _converter(self, type_: Any, nested: list[int]) -> Callable[[Any], Any] | None:
        """How a non-null value of ``type_`` is converted (None: kept as is),
        following ``convert_argument``'s branches in its order."""
        if isinstance(type_, StrawberryMaybe):
            raise _NotPlanned  # and strawberry validates its nulls only without from_input
        if isinstance(type_, StrawberryOptional):
            return self._converter(type_.of_type, nested)
        if isinstance(type_, StrawberryList):
            item = self._converter(type_.of_type, nested)
            if item is None:
                # copied: graphql-core gives every request the same default list
                return list
            return lambda items: [x if x is None or x is UNSET else item(x) for x in items]
        if type_ is GlobalID:
            raise _NotPlanned
        if is_scalar(type_, self.registry) or isinstance(type_, StrawberryEnumDefinition):
            return None
        if isinstance(type_, LazyType):
            return self._converter(type_.resolve_type(), nested)
        if has_enum_definition(type_):
            return None
        if has_object_definition(type_):
            definition = type_.__strawberry_definition__
            plan = self.plan(definition)
            if plan is None:
                raise _NotPlanned
            nested.append(id(definition))
            cls = type_
            return lambda value: plan.build(cls, value)
        raise _NotPlanned


# --- variables ----------------------------------------------------------------

_Coerce = Callable[[Any], Any]
_VARIABLE_PLANS: WeakKeyDictionary[GraphQLSchema, VariablePlans] = WeakKeyDictionary()


def planned_variables(schema: GraphQLSchema) -> None:
    """Coerce this schema's variables from :class:`VariablePlans`.

    graphql-core coerces them in ``Executor.build`` through its module's
    ``get_variable_values``, with no hook: that name is replaced by
    :func:`_get_variable_values`, which serves the schemas given here and
    hands every other schema to graphql-core's function unchanged."""
    if graphql_executor.get_variable_values not in (get_variable_values, _get_variable_values):
        raise RuntimeError("graphql-core's executor no longer coerces through get_variable_values")
    _VARIABLE_PLANS[schema] = VariablePlans()
    graphql_executor.get_variable_values = _get_variable_values


def _get_variable_values(
    schema: GraphQLSchema,
    var_def_nodes: Collection[VariableDefinitionNode],
    inputs: dict[str, Any],
    max_errors: int | None = None,
    hide_suggestions: bool = False,
) -> list[GraphQLError] | VariableValues:
    plans = _VARIABLE_PLANS.get(schema)
    if plans is not None:
        try:
            planned = plans.coerce(schema, var_def_nodes, inputs)
        except Exception:  # e.g. an out_type that refuses: graphql-core's errors
            planned = None
        if planned is not None:
            return planned
    return get_variable_values(schema, var_def_nodes, inputs, max_errors, hide_suggestions)


class VariablePlans:
    """The variables of a request coerced as graphql-core's ``coerce_input_value``
    coerces them, each type's dispatch (non-null, list, input object, leaf),
    fields, defaults and depth worked out once: a ``recordOrders`` batch is
    some 47,000 values, each asked its type's kind three or four times, and
    walked once before that to see it is not nested too deeply.

    Only what graphql-core would accept is taken: a value it refuses, a
    variable left to its default or missing, a type that contains itself (its
    values' depth unbounded) or a ``@oneOf`` type gives None (strawberry's
    one-of types check themselves in ``out_type``, called here as there), and
    the request's variables go to graphql-core, which finds and words the errors."""

    def __init__(self) -> None:
        # by the type as written in the document ("RecordOrdersInput!"): the
        # wrapper types are built anew for every request
        self.by_type: dict[str, _Coerce | None] = {}

    def coerce(
        self,
        schema: GraphQLSchema,
        var_def_nodes: Collection[VariableDefinitionNode],
        inputs: dict[str, Any],
    ) -> VariableValues | None:
        sources: dict[str, VariableValueSource] = {}
        coerced: dict[str, Any] = {}
        for node in var_def_nodes:
            signature = get_variable_signature(schema, node)
            if isinstance(signature, GraphQLError):
                return None
            value = inputs.get(signature.name, Undefined)
            if value is Undefined:
                return None
            coerce = self.coercer(signature.type)
            if coerce is None:
                return None
            value_coerced = coerce(value)
            if value_coerced is Undefined:
                return None
            sources[signature.name] = VariableValueSource(signature, value)
            coerced[signature.name] = value_coerced
        return VariableValues(sources, coerced)

    def coercer(self, type_: GraphQLInputType) -> _Coerce | None:
        key = str(type_)
        try:
            return self.by_type[key]
        except KeyError:
            pass
        depth = _depth(type_, set())
        plan = None
        if depth is not None and depth <= MAX_NESTING_DEPTH:
            with contextlib.suppress(_NotPlanned):
                plan = _coercer(type_)
        self.by_type[key] = plan
        return plan


def _depth(type_: GraphQLInputType, within: set[str]) -> int | None:
    """How deep graphql-core's ``input_is_nested_too_deeply`` can count in a
    value of this type; None: unbounded (a type that contains itself)."""
    if isinstance(type_, GraphQLNonNull):
        return _depth(type_.of_type, within)
    if isinstance(type_, GraphQLList):
        item = _depth(type_.of_type, within)
        return None if item is None else item + 1
    if isinstance(type_, GraphQLInputObjectType):
        if type_.name in within:
            return None
        within.add(type_.name)
        deepest = 0
        for field in type_.fields.values():
            nested = _depth(field.type, within)
            if nested is None:
                return None
            deepest = max(deepest, nested + 1)
        within.discard(type_.name)
        return deepest
    return 0


def _coercer(type_: GraphQLInputType) -> _Coerce:
    """graphql-core's ``coerce_input_value`` for one type, its branches taken
    once: the same checks in the same order, the same calls of the leaf
    types' ``coerce_input_value`` and of ``out_type``, Undefined for a value
    it refuses."""
    if isinstance(type_, GraphQLNonNull):
        inner = _coercer(type_.of_type)

        def non_null(value: Any) -> Any:
            if value is None or value is Undefined:
                return Undefined
            return inner(value)

        return non_null

    if isinstance(type_, GraphQLList):
        # A non-null item type's check made here: one call per item, not two.
        required_items = isinstance(type_.of_type, GraphQLNonNull)
        item = _coercer(type_.of_type.of_type if required_items else type_.of_type)

        def list_of(value: Any) -> Any:
            if value is None or value is Undefined:
                return None
            if not is_iterable(value):
                single = item(value)
                return Undefined if single is Undefined else [single]
            items: list[Any] = []
            append = items.append
            for x in value:
                if required_items and (x is None or x is Undefined):
                    return Undefined
                coerced = item(x)
                if coerced is Undefined:
                    return Undefined
                append(coerced)
            return items

        return list_of

    if isinstance(type_, GraphQLInputObjectType):
        if type_.is_one_of:
            raise _NotPlanned
        names = type_.fields
        # (name, key in the coerced value, coercion of the value, non-null,
        # required, default, a String: a str is taken as it is, as
        # coerce_string takes it). A non-null type's check is made here: one
        # call per value, not two.
        fields: list[tuple[str, str, _Coerce, bool, bool, Any, bool]] = []
        for name, field in type_.fields.items():
            required = is_required_input_field(field)
            try:
                # graphql-core's value, memoized on the field: the same object
                default = Undefined if required else coerce_default_value(field)
            except Exception as error:  # an invalid default: graphql-core words it
                raise _NotPlanned from error
            not_null = isinstance(field.type, GraphQLNonNull)
            inner = field.type.of_type if not_null else field.type
            text = (
                isinstance(inner, GraphQLScalarType) and inner.coerce_input_value is coerce_string
            )
            fields.append(
                (name, field.out_name or name, _coercer(inner), not_null, required, default, text)
            )
        input_type = type_
        known = names.keys()

        def input_object(value: Any) -> Any:
            if value is None or value is Undefined:
                return None
            if not isinstance(value, dict):
                return Undefined
            if not value.keys() <= known:
                for name, item in value.items():
                    if item is not Undefined and name not in names:
                        return Undefined
            coerced: dict[str, Any] = {}
            for name, key, coerce, not_null, required, default, text in fields:
                item = value.get(name, Undefined)
                if item is Undefined:
                    if required:
                        return Undefined
                    if default is not Undefined:
                        coerced[key] = default
                elif text and type(item) is str:
                    coerced[key] = item
                else:
                    if not_null and item is None:
                        return Undefined
                    item = coerce(item)
                    if item is Undefined:
                        return Undefined
                    coerced[key] = item
            return input_type.out_type(coerced)

        return input_object

    if not is_leaf_type(type_):
        raise _NotPlanned
    leaf: Any = type_

    def leaf_value(value: Any) -> Any:
        if value is None or value is Undefined:
            return None
        try:
            return leaf.coerce_input_value(value)
        except Exception:  # refused, as graphql-core takes it
            return Undefined

    return leaf_value
