"""``Member.from_row`` sets a page's members' attributes directly (the
dataclass's constructor cost more than reading the row): what it builds
must be what the constructor builds."""

from __future__ import annotations

from datetime import UTC, date, datetime

from tessera.members.profile import Gender, MemberStatus
from tessera.schema.ids import encode_id
from tessera.schema.members.types import MEMBER_COLUMNS, Member


def test_a_member_from_a_row_is_the_member_the_constructor_builds() -> None:
    at = datetime(2026, 5, 1, 10, 0, tzinfo=UTC)
    row = {
        "id": 42,
        "brand_id": 7,
        "external_id": "CRM-42",
        "card_number": "80000000042",
        "status": "active",
        "name": "Li Lei",
        "gender": "female",
        "birthday": date(1990, 2, 3),
        "phone_sealed": "1:c2VhbGVk",
        "email_sealed": None,
        "province": "Zhejiang",
        "city": "Hangzhou",
        "education": "master",
        "occupation": "engineer",
        "income_range": "20k-50k",
        "interests": ["tea", "running"],
        "join_channel": "app",
        "join_source": "store S001",
        "joined_at": at,
        "created_at": at,
        "updated_at": at,
        "attributes": {"size": "M"},
    }
    assert set(row) == set(MEMBER_COLUMNS)
    built = Member.from_row(row)
    constructed = Member(
        pk=42,
        id=encode_id("Member", 42),  # type: ignore[arg-type]
        external_id="CRM-42",
        card_number="80000000042",
        status=MemberStatus.ACTIVE,
        name="Li Lei",
        gender=Gender.FEMALE,
        birthday=date(1990, 2, 3),
        province="Zhejiang",
        city="Hangzhou",
        education="master",
        occupation="engineer",
        income_range="20k-50k",
        interests=["tea", "running"],
        join_channel="app",
        join_source="store S001",
        joined_at=at,
        created_at=at,
        updated_at=at,
        attributes={"size": "M"},
        brand_pk=7,
        phone_sealed="1:c2VhbGVk",
    )
    assert vars(built) == vars(constructed)
    assert type(built.status) is MemberStatus and type(built.gender) is Gender
    # its own list, as the constructor's call gave it
    assert built.interests is not row["interests"]


def test_a_member_from_a_partial_row_leaves_the_fields_it_lacks_unset() -> None:
    """A page reads only its selected fields' columns: a field it did not
    read fails when the engine reads it, rather than answering null."""
    built = Member.from_row({"id": 42, "brand_id": 7, "name": "Li Lei", "status": "active"})
    assert (built.pk, built.brand_pk, built.name, built.status) == (
        42,
        7,
        "Li Lei",
        MemberStatus.ACTIVE,
    )
    for unread in ("external_id", "gender", "birthday", "joined_at", "interests", "attributes"):
        assert not hasattr(built, unread)
    assert built.phone_sealed is None and built.ready_tags is None
