"""Reading the person tables back in the tests."""

from __future__ import annotations

from tessera.members.models import Member
from tessera.persons.models import Person, PersonMember


async def grouping(tenant_id: int) -> set[frozenset[int]]:
    """The tenant's persons as sets of member ids (ids of persons aside)."""
    by_person: dict[int, set[int]] = {}
    for person_id, member_id in await PersonMember.filter(tenant_id=tenant_id).values_list(
        "person_id", "member_id"
    ):
        by_person.setdefault(person_id, set()).add(member_id)
    live = set(
        await Person.filter(tenant_id=tenant_id, merged_into_id__isnull=True).values_list(
            "id", flat=True
        )
    )
    assert set(by_person) == live, "every live person has members, no member is on a merged one"
    return {frozenset(v) for v in by_person.values()}


async def person_of(member: Member) -> int | None:
    link = await PersonMember.get_or_none(member_id=member.id)
    return link.person_id if link else None
