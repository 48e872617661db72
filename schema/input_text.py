"""Control characters in string inputs are refused before any resolver runs.

A NUL (``\\u0000``) cannot be stored by PostgreSQL (text nor jsonb), so
without this check it surfaced as a masked internal error, after part of the
work was done. The check runs in one place that every string input passes:
the schema builder attaches :class:`RefuseControlCharacters` to every root
field that takes arguments, and it walks the arguments (input objects, lists
and JSON values, keys included). Refused: C0 controls other than tab, line
feed and carriage return, DEL, and lone surrogates (not UTF-8). The refusal is
raised as ``DomainErrors``, one per offending field, so a mutation answers
with its payload's ``UserError``s (``ErrorsInPayload`` wraps this extension)
and a query with a GraphQL error per field (``MaskUnexpectedErrors``).
"""

from __future__ import annotations

import re
from collections.abc import Iterator
from datetime import date, datetime
from decimal import Decimal
from enum import Enum
from typing import Any

from strawberry.extensions import FieldExtension
from strawberry.types import Info
from strawberry.types.base import has_object_definition
from strawberry.types.field import StrawberryField
from strawberry.utils.str_converters import to_camel_case

from tessera.errors import DomainError, DomainErrors

_FORBIDDEN = re.compile(r"[\x00-\x08\x0b\x0c\x0e-\x1f\x7f\ud800-\udfff]")
MESSAGE = "must not contain control characters (other than tab and line breaks)"


def _problems(value: Any, path: list[str]) -> Iterator[list[str]]:
    if isinstance(value, str):
        if _FORBIDDEN.search(value):
            yield path
    elif isinstance(value, Enum) or value is None:
        return
    elif isinstance(value, dict):
        for key, item in value.items():
            key_path = [*path, str(key)]
            if isinstance(key, str) and _FORBIDDEN.search(key):
                yield key_path
            yield from _problems(item, key_path)
    elif isinstance(value, list | tuple):
        for index, item in enumerate(value):
            yield from _problems(item, [*path, str(index)])
    elif has_object_definition(value):
        for field in value.__strawberry_definition__.fields:
            name = field.graphql_name or to_camel_case(field.python_name)
            yield from _problems(getattr(value, field.python_name, None), [*path, name])


def _any_forbidden(value: Any) -> bool:
    """Whether :func:`_problems` could find anything: the same walk without
    paths, on a stack instead of nested generators (a recordOrders batch of
    1,000 orders is some 40,000 values, nearly always clean), the strings
    gathered and searched at once (the pattern matches one character, so
    joining them with an allowed one finds what searching each would). An
    input object's attributes are all looked at, fields or not: at worst a
    false alarm, which :func:`_problems` then clears."""
    strings: list[str] = []
    gather = strings.append
    stack = [value]
    while stack:
        item = stack.pop()
        kind = type(item)
        if kind is str:
            gather(item)
        elif kind is list or kind is tuple:
            stack.extend(item)
        elif kind in _PLAIN or item is None:
            continue
        elif isinstance(item, str):
            gather(item)
        elif isinstance(item, Enum):
            continue
        elif isinstance(item, dict):
            for key, each in item.items():
                if isinstance(key, str):
                    gather(key)
                stack.append(each)
        elif isinstance(item, list | tuple):
            stack.extend(item)
        elif has_object_definition(item):
            stack.extend(vars(item).values())
    return _FORBIDDEN.search("\n".join(strings)) is not None


_PLAIN = frozenset({int, float, bool, Decimal, datetime, date})


class RefuseControlCharacters(FieldExtension):
    def __init__(self, mutation: bool) -> None:
        self.mutation = mutation

    def apply(self, field: StrawberryField) -> None:
        self.arguments = {
            a.python_name: a.graphql_name or to_camel_case(a.python_name) for a in field.arguments
        }

    def _check(self, kwargs: dict[str, Any]) -> None:
        if not any(_any_forbidden(v) for k, v in kwargs.items() if k in self.arguments):
            return
        found = [
            path
            for name, value in kwargs.items()
            if name in self.arguments
            for path in _problems(value, [self.arguments[name]])
        ]
        if found:
            raise DomainErrors(
                [
                    # ErrorsInPayload puts a mutation's paths under "input" itself.
                    DomainError(
                        "INVALID_CHARACTERS",
                        MESSAGE,
                        p[1:] if self.mutation and p[0] == "input" else p,
                    )
                    for p in found
                ]
            )

    def resolve(self, next_: Any, source: Any, info: Info, **kwargs: Any) -> Any:
        self._check(kwargs)
        return next_(source, info, **kwargs)

    async def resolve_async(self, next_: Any, source: Any, info: Info, **kwargs: Any) -> Any:
        self._check(kwargs)
        return await next_(source, info, **kwargs)
