"""Errors as the API shows them (API.md, Shapes).

- Validation and business-rule failures are ``UserError`` entries in a
  mutation payload, built from :class:`tessera.errors.DomainError` by
  :class:`ErrorsInPayload`, which the schema builder puts on every mutation.
- A caller out of scope gets a GraphQL error with code ``FORBIDDEN``.
- Anything unexpected is masked: the client sees ``INTERNAL_SERVER_ERROR`` and
  a request id; the log line with the traceback carries the same id.
- Client mistakes are logged at info without a traceback; only unexpected
  failures are logged at error.
"""

from __future__ import annotations

import dataclasses
import logging
from collections.abc import Callable, Iterator, Sequence
from enum import Enum
from typing import Any

import strawberry
from graphql import GraphQLError
from strawberry.extensions import FieldExtension, SchemaExtension
from strawberry.types import ExecutionContext, Info
from strawberry.types.field import StrawberryField

from tessera.error_codes import ERROR_CODES
from tessera.errors import DomainError, DomainErrors
from tessera.request_context import current_request_id

log = logging.getLogger("tessera.graphql")

_CODES = Enum(  # type: ignore[misc]
    "UserErrorCode",
    [(code, strawberry.enum_value(code, description=text)) for code, text in ERROR_CODES.items()],
)
UserErrorCode: Any = strawberry.enum(
    _CODES,
    description="Why an input was refused: every code the API returns, in `UserError.code` "
    "and in a GraphQL error's `extensions.code`. New codes may be added; existing ones "
    "keep their meaning. The list is `tessera/error_codes.py`.",
)


@strawberry.type(description="A problem with a mutation's input; nothing was changed.")
class UserError:
    field: list[str] | None = strawberry.field(
        description='Path to the input field at fault, e.g. ["input", "config", "url"].'
    )
    message: str = strawberry.field(description="What is wrong, for a person.")
    code: UserErrorCode = strawberry.field(description="Machine-readable reason.")


def error_code(code: str) -> Any:
    """The enum value of ``code``; a code missing from the catalogue is a bug
    (the catalogue test names it), shown to the client as plain ``INVALID``."""
    try:
        return UserErrorCode[code]
    except KeyError:
        log.error("error code %s is not in tessera.error_codes", code)
        return UserErrorCode["INVALID"]


def user_errors(error: DomainError, prefix: Sequence[str] = ("input",)) -> list[UserError]:
    """``UserError``s of a refusal, their paths starting at ``prefix`` (the argument)."""
    errors = error.errors if isinstance(error, DomainErrors) else [error]
    return [
        UserError(
            field=[*prefix, *e.field] if e.field else None,
            message=e.message,
            code=error_code(e.code),
        )
        for e in errors
    ]


class ErrorsInPayload(FieldExtension):
    """A refusal becomes the field's payload: a ``DomainError`` raised anywhere
    in the resolver returns ``Payload(errors=[...])`` with every other field at
    its default, so resolvers only raise. A payload type therefore gives every
    field but ``errors`` a default (checked when the schema is built).

    The schema builder attaches it to every mutation, inside the audit
    extension (which then records the call as rejected); a query field with a
    payload adds ``extensions=[ErrorsInPayload(prefix=())]`` itself."""

    def __init__(self, prefix: Sequence[str] = ("input",)) -> None:
        self.prefix = tuple(prefix)
        self.payload: Callable[..., Any] | None = None

    def apply(self, field: StrawberryField) -> None:
        payload = field.type
        if not dataclasses.is_dataclass(payload) or "errors" not in {
            f.name for f in dataclasses.fields(payload)
        }:
            raise TypeError(f"{field.name} must return a payload type with `errors`")
        required = [
            f.name
            for f in dataclasses.fields(payload)
            if f.name != "errors"
            and getattr(f, "base_resolver", None) is None
            and f.default is dataclasses.MISSING
            and f.default_factory is dataclasses.MISSING
        ]
        if required:
            raise TypeError(
                f"{payload.__name__} fields {required} need defaults: a refusal builds "
                "the payload from `errors` alone"
            )
        self.payload = payload  # type: ignore[assignment]

    def refused(self, info: Info, error: DomainError) -> Any:
        assert self.payload is not None
        errors = user_errors(error, self.prefix)
        log.info(
            "%s refused: %s",
            info.field_name,
            ", ".join(f"{e.code.name} at {'.'.join(e.field or [])}" for e in errors),
        )
        return self.payload(errors=errors)

    def resolve(self, next_: Callable[..., Any], source: Any, info: Info, **kwargs: Any) -> Any:
        try:
            return next_(source, info, **kwargs)
        except DomainError as error:
            return self.refused(info, error)

    async def resolve_async(
        self, next_: Callable[..., Any], source: Any, info: Info, **kwargs: Any
    ) -> Any:
        try:
            return await next_(source, info, **kwargs)
        except DomainError as error:
            return self.refused(info, error)


class ApiError(GraphQLError):
    """An expected error that is shown to the client as it is."""

    code = "BAD_REQUEST"

    def __init__(self, message: str) -> None:
        super().__init__(message, extensions={"code": self.code})


class Forbidden(ApiError):
    code = "FORBIDDEN"


class NotFound(ApiError):
    code = "NOT_FOUND"


def _expected(error: GraphQLError) -> bool:
    original = error.original_error
    if original is None or isinstance(original, GraphQLError):
        return True
    return isinstance(original, DomainError)


def log_client_errors(errors: list[GraphQLError], context: ExecutionContext | None) -> None:
    """``Schema.process_errors``: a client's mistake (refused document, scope,
    cursor, limit) is an info line without a traceback; unexpected failures are
    logged once, at error, by :class:`MaskUnexpectedErrors`."""
    for error in errors:
        if _expected(error):
            code = (error.extensions or {}).get("code") or getattr(
                error.original_error, "code", "GRAPHQL_VALIDATION_FAILED"
            )
            log.info(
                "client error %s at %s: %s",
                code,
                ".".join(map(str, error.path or [])) or "-",
                error.message,
            )


def _domain_errors(original: DomainError, error: GraphQLError) -> list[GraphQLError]:
    """One GraphQL error per problem; one that names an input names its path
    from the field's arguments, in the message and as ``extensions.field``."""
    errors = original.errors if isinstance(original, DomainErrors) else [original]
    return [
        GraphQLError(
            f"{'.'.join(e.field)}: {e.message}" if e.field else e.message,
            path=error.path,
            extensions={"code": e.code, "field": e.field} if e.field else {"code": e.code},
        )
        for e in errors
    ]


class MaskUnexpectedErrors(SchemaExtension):
    """Replace unexpected exceptions with a generic error carrying the request id."""

    def on_operation(self) -> Iterator[None]:
        yield
        result = self.execution_context.result
        if not result or not result.errors:
            return
        masked = []
        for error in result.errors:
            if isinstance(error.original_error, DomainError):
                masked.extend(_domain_errors(error.original_error, error))
            elif _expected(error):
                masked.append(error)
            else:
                request_id = current_request_id()
                log.error(
                    "unexpected error in %s",
                    ".".join(map(str, error.path or [])),
                    exc_info=error.original_error,
                    extra={"graphql_path": error.path},
                )
                masked.append(
                    GraphQLError(
                        f"Internal server error (request id {request_id})",
                        path=error.path,
                        nodes=error.nodes,
                        extensions={"code": "INTERNAL_SERVER_ERROR", "requestId": request_id},
                    )
                )
        result.errors = masked
