"""Database errors that a second try can get past."""

from __future__ import annotations

# PostgreSQL SQLSTATEs: serialization_failure, deadlock_detected,
# lock_not_available (lock_timeout), query_canceled (statement_timeout).
TRANSIENT_SQLSTATES = frozenset({"40001", "40P01", "55P03", "57014"})


def is_transient(exc: BaseException) -> bool:
    """Whether ``exc`` (or what it wraps: Tortoise re-raises driver errors)
    is a deadlock, serialization failure, lock or statement timeout, or
    SQLite's "database is locked"."""
    seen: set[int] = set()
    current: BaseException | None = exc
    while current is not None and id(current) not in seen:
        seen.add(id(current))
        if getattr(current, "sqlstate", None) in TRANSIENT_SQLSTATES:
            return True
        if "database is locked" in str(current):
            return True
        current = current.__cause__ or current.__context__
    return False
