"""The one error type services raise for bad input and broken business rules.

The GraphQL layer turns it into a ``UserError`` (API.md); the CLI prints it and
exits non-zero. Anything else escaping a service is a bug and is masked.
"""

from __future__ import annotations


class DomainError(Exception):
    """A refusal the caller can act on. Nothing was changed when it is raised.

    :param code: UPPER_SNAKE_CASE machine-readable reason (``INVALID``,
        ``NOT_FOUND``, ``DUPLICATE``, ``CONFLICT``, ``FORBIDDEN``, ...).
    :param message: a sentence for a person.
    :param field: path to the offending input field, e.g. ``["config", "apiKey"]``.
    """

    def __init__(self, code: str, message: str, field: list[str] | None = None) -> None:
        super().__init__(message)
        self.code = code
        self.message = message
        self.field = field


class DomainErrors(DomainError):
    """Several independent problems with one input, reported together."""

    def __init__(self, errors: list[DomainError]) -> None:
        super().__init__(errors[0].code, errors[0].message, errors[0].field)
        self.errors = errors
