"""``DateTime`` inputs read through ``datetime.fromisoformat`` where they are
plain RFC 3339 (``tessera.schema.scalars._instant``) are what strawberry's own
reading (dateutil's ``isoparse``) makes of them: the same value with the same
offset object, or the same error."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta, timezone
from typing import Any

from hypothesis import given, settings
from hypothesis import strategies as st
from strawberry.schema.types.base_scalars import DateTimeDefinition

from tessera.schema.scalars import _PLAIN_INSTANT, SPECIFIED, _instant

LIBRARY = DateTimeDefinition.parse_value
assert LIBRARY is not None

offsets = st.integers(-24 * 60 + 1, 24 * 60 - 1).map(lambda m: timezone(timedelta(minutes=m)))
instants = st.datetimes(
    min_value=datetime(1, 1, 1), max_value=datetime(9999, 12, 30), timezones=offsets | st.just(UTC)
)
written = st.builds(
    lambda at, spec, zulu: (
        at.isoformat(timespec=spec).replace("+00:00", "Z") if zulu else at.isoformat(timespec=spec)
    ),
    instants,
    st.sampled_from(["auto", "seconds", "milliseconds", "microseconds", "minutes", "hours"]),
    st.booleans(),
)
near = st.from_regex(
    r"\A\d{4}-\d\d-\d\d[T t]\d\d:\d\d(:\d\d)?([.,]\d{1,8})?(Z|z|[+-]\d\d(:?\d\d)?)?\Z"
)


def _outcome(read: Any, value: object) -> Any:
    try:
        parsed = read(value)
    except Exception as error:  # the error itself is compared
        return type(error), str(error)
    return repr(parsed), type(parsed.tzinfo), parsed


@settings(max_examples=2000)
@given(value=written | near | st.text(max_size=40) | st.integers())
def test_an_instant_reads_as_strawberry_reads_it(value) -> None:
    assert _outcome(_instant, value) == _outcome(LIBRARY, value)


def test_the_schemas_datetime_reads_plain_instants_itself() -> None:
    assert SPECIFIED[datetime].parse_value is _instant
    assert _PLAIN_INSTANT.fullmatch("2026-12-01T10:00:00.5+08:00")
    assert not _PLAIN_INSTANT.fullmatch("2026-12-01T24:00:00Z")  # dateutil's next midnight
    assert _outcome(_instant, "2026-12-01T24:00:00Z") == _outcome(LIBRARY, "2026-12-01T24:00:00Z")
    assert _outcome(_instant, "2026-02-30T10:00:00Z") == _outcome(LIBRARY, "2026-02-30T10:00:00Z")
