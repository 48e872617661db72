"""Errors as the API shows them (API.md, Shapes).

- Validation and business-rule failures are ``UserError`` entries in a
  mutation payload, built from :class:`tessera.errors.DomainError`.
- A caller out of scope gets a GraphQL error with code ``FORBIDDEN``.
- Anything unexpected is masked: the client sees ``INTERNAL_SERVER_ERROR`` and
  a request id; the log line with the traceback carries the same id.
"""

from __future__ import annotations

import logging
from collections.abc import Iterator

import strawberry
from graphql import GraphQLError
from strawberry.extensions import SchemaExtension

from tessera.errors import DomainError, DomainErrors
from tessera.request_context import current_request_id

log = logging.getLogger("tessera.graphql")


@strawberry.type(description="A problem with a mutation's input; nothing was changed.")
class UserError:
    field: list[str] | None = strawberry.field(
        description='Path to the input field at fault, e.g. ["input", "config", "url"].'
    )
    message: str = strawberry.field(description="What is wrong, for a person.")
    code: str = strawberry.field(description="Machine-readable reason, UPPER_SNAKE_CASE.")


def user_errors(error: DomainError) -> list[UserError]:
    errors = error.errors if isinstance(error, DomainErrors) else [error]
    return [
        UserError(field=["input", *e.field] if e.field else None, message=e.message, code=e.code)
        for e in errors
    ]


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
