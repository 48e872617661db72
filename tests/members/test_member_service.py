"""Members through the service layer: identities, profile, join rules, cards."""

from __future__ import annotations

from datetime import UTC, date, datetime, timedelta, timezone

import pytest

from tessera.errors import DomainError, DomainErrors
from tessera.members import service
from tessera.members.cards import format_card, is_valid_card, luhn_digit, next_card_numbers
from tessera.members.identities import IdentityKind, normalise
from tessera.members.models import Member, MemberIdentity
from tessera.members.scheme import JoinRule, update_settings
from tessera.scope import BrandScope
from tessera.uow import unit_of_work


@pytest.fixture
def register():
    """``await register(brand, **profile)``: the member row the service creates."""

    async def make(brand, **profile) -> Member:
        identities = profile.pop("identities", [])
        return await service.create_member(BrandScope(brand), profile, identities=identities)

    return make


def fields_of(error: DomainError) -> list[list[str] | None]:
    errors = error.errors if isinstance(error, DomainErrors) else [error]
    return [e.field for e in errors]


async def identities(member: Member) -> set[tuple[str, str]]:
    rows = await MemberIdentity.filter(member_id=member.id)
    return {(row.kind, row.value) for row in rows}


def test_luhn_check_digit_catches_a_mistyped_digit():
    assert luhn_digit("7992739871") == "3"
    card = format_card("8001", 42)
    assert card == "8001000000042" + luhn_digit("8001000000042")
    assert is_valid_card(card)
    wrong = card[:-2] + str((int(card[-2]) + 1) % 10) + card[-1]
    assert not is_valid_card(wrong)


async def test_registration_joins_with_a_card_and_normalised_identities(brand_a, register):
    member = await register(
        brand_a, name="Li Lei", phone="138 0013 8000", email=" Li.Lei@Example.COM "
    )
    assert member.status == "active"
    assert member.phone == "+8613800138000"
    assert member.email == "li.lei@example.com"
    assert is_valid_card(member.card_number)
    assert member.card_number.startswith(f"8{brand_a.id % 1000:03d}")
    assert await identities(member) == {
        ("phone", "+8613800138000"),
        ("email", "li.lei@example.com"),
        ("card_number", member.card_number),
    }


async def test_card_numbers_are_unique_per_brand(brand_a, register):
    cards = [
        (await register(brand_a, identities=[("app_user_id", f"u{i}")])).card_number
        for i in range(5)
    ]
    assert len(set(cards)) == 5
    assert all(is_valid_card(c) for c in cards)


async def test_a_run_of_card_numbers_takes_one_round_trip_and_one_to_check_it(
    brand_a, register, assert_round_trips
):
    """The sequence is advanced and read back in one statement, under the
    row's lock; one more query finds whether an imported card took any."""
    scope = BrandScope(brand_a)
    first = (await register(brand_a, identities=[("app_user_id", "u1")])).card_number
    # Those two, and the transaction's BEGIN and COMMIT.
    async with assert_round_trips(4), unit_of_work(scope) as uow:
        run = await next_card_numbers(scope, uow.connection, 3, set())
    assert run == [format_card(first[:-10], int(first[-10:-1]) + n) for n in (1, 2, 3)]


async def test_a_brand_without_member_settings_is_named_not_unpacked(brand_a, monkeypatch):
    # The settings row is made on first use; were it missing even then (a
    # delete between the two statements), the error says so.
    async def made_nothing(*_args):
        return None

    monkeypatch.setattr("tessera.members.cards.get_settings", made_nothing)
    scope = BrandScope(brand_a)
    with pytest.raises(RuntimeError, match="no member settings"):
        async with unit_of_work(scope) as uow:
            await next_card_numbers(scope, uow.connection, 1, set())


async def test_lookup_normalises_like_writes(brand_a, register):
    member = await register(brand_a, phone="13800138000")
    scope = BrandScope(brand_a)
    assert (await service.find_by_identity(scope, "phone", "+86 138-0013-8000")).id == member.id
    assert (
        await service.find_by_identity(
            scope, "card_number", " " + member.card_number[:4] + " " + member.card_number[4:]
        )
    ).id == member.id
    assert await service.find_by_identity(scope, "phone", "13900139000") is None


async def test_invalid_phone_and_email_name_their_field_and_write_nothing(brand_a, register):
    with pytest.raises(DomainErrors) as caught:
        await register(brand_a, phone="12345", email="not-an-email")
    assert fields_of(caught.value) == [["phone"], ["email"]]
    assert {e.code for e in caught.value.errors} == {"INVALID_PHONE", "INVALID_EMAIL"}
    assert await Member.all().count() == 0


async def test_duplicate_identity_is_refused(brand_a, register):
    await register(brand_a, phone="13800138000")
    with pytest.raises(DomainError) as caught:
        await register(brand_a, name="Other", identities=[("phone", "+8613800138000")])
    assert caught.value.code == "DUPLICATE_IDENTITY"
    assert fields_of(caught.value) == [["identities", "0", "value"]]
    assert await Member.all().count() == 1


async def test_same_identity_may_exist_in_two_brands(brand_a, brand_b, register):
    a = await register(brand_a, email="x@example.com")
    b = await register(brand_b, email="x@example.com")
    assert a.id != b.id
    found = await service.find_by_identity(BrandScope(brand_b), "email", "X@example.com")
    assert found.id == b.id


async def test_a_member_needs_an_identity(brand_a, register):
    with pytest.raises(DomainError) as caught:
        await register(brand_a, name="Nobody")
    assert caught.value.code == "IDENTITY_REQUIRED"


async def test_profile_phone_change_replaces_its_identity(brand_a, register):
    member = await register(brand_a, phone="13800138000")
    scope = BrandScope(brand_a)
    updated = await service.update_member(scope, member.id, {"phone": "13900139000"})
    assert updated.phone == "+8613900139000"
    kinds = await identities(updated)
    assert ("phone", "+8613900139000") in kinds and ("phone", "+8613800138000") not in kinds


async def test_identity_added_fills_the_empty_profile_field_and_removal_falls_back(
    brand_a, register
):
    member = await register(brand_a, identities=[("wechat_openid", "o-1")])
    scope = BrandScope(brand_a)
    member = await service.add_identity(scope, member.id, "email", "A@Example.com")
    assert member.email == "a@example.com"
    member = await service.add_identity(scope, member.id, "email", "b@example.com")
    assert member.email == "a@example.com"  # the first stays primary
    member = await service.remove_identity(scope, member.id, "email", "a@example.com")
    assert member.email == "b@example.com"
    member = await service.remove_identity(scope, member.id, "email", "b@example.com")
    assert member.email is None


async def test_a_member_keeps_one_identity_and_their_card(brand_a, register):
    await update_settings(BrandScope(brand_a), join_rule=JoinRule.PAID)
    prospect = await register(brand_a, identities=[("app_user_id", "only")])
    scope = BrandScope(brand_a)
    with pytest.raises(DomainError) as caught:
        await service.remove_identity(scope, prospect.id, "app_user_id", "only")
    assert caught.value.code == "LAST_IDENTITY"

    await update_settings(scope, join_rule=JoinRule.REGISTRATION)
    member = await register(brand_a, identities=[("app_user_id", "two")])
    with pytest.raises(DomainError) as caught:
        await service.remove_identity(scope, member.id, "card_number", member.card_number)
    assert caught.value.code == "CARD_REQUIRED"


async def test_paid_rule_keeps_prospects_until_activation(brand_a, register, record_events):
    log = await record_events(brand_a)
    scope = BrandScope(brand_a)
    await update_settings(scope, join_rule=JoinRule.PAID)
    prospect = await register(brand_a, phone="13800138000")
    assert prospect.status == "prospect" and prospect.card_number is None
    assert log.named("member.joined") == []

    member = await service.activate_member(scope, prospect.id, join_channel="app")
    assert member.status == "active" and is_valid_card(member.card_number)
    assert member.join_channel == "app"
    again = await service.activate_member(scope, prospect.id)
    assert again.card_number == member.card_number
    assert [e.payload["member_id"] for e in log.named("member.joined")] == [member.id]

    with pytest.raises(DomainError) as caught:
        async with unit_of_work(scope) as uow:
            await service.member_for_fact(
                scope, uow, member_id=None, identity=("phone", "13900139000")
            )
    assert caught.value.code == "UNKNOWN_MEMBER"


async def test_first_purchase_creates_unknown_members_and_joins_prospects(
    brand_a, register, record_events
):
    log = await record_events(brand_a)
    scope = BrandScope(brand_a)
    await update_settings(scope, join_rule=JoinRule.FIRST_PURCHASE)
    prospect = await register(brand_a, email="p@example.com")
    assert prospect.status == "prospect"

    async with unit_of_work(scope) as uow:
        joined = await service.member_for_fact(
            scope, uow, member_id=None, identity=("email", "P@example.com"), join_channel="pos"
        )
        created = await service.member_for_fact(
            scope, uow, member_id=None, identity=("phone", "13800138000"), join_channel="pos"
        )
        again = await service.member_for_fact(
            scope, uow, member_id=None, identity=("phone", "+8613800138000")
        )
    assert joined.id == prospect.id and joined.status == "active"
    assert created.status == "active" and created.phone == "+8613800138000"
    assert created.join_channel == "pos" and is_valid_card(created.card_number)
    assert again.id == created.id
    assert sorted(e.payload["member_id"] for e in log.named("member.joined")) == sorted(
        [prospect.id, created.id]
    )


async def test_registration_rule_never_creates_from_facts(brand_a):
    scope = BrandScope(brand_a)
    with pytest.raises(DomainError) as caught:
        async with unit_of_work(scope) as uow:
            await service.member_for_fact(
                scope, uow, member_id=None, identity=("phone", "13800138000")
            )
    assert caught.value.code == "UNKNOWN_MEMBER" and caught.value.field == ["member"]
    assert await Member.all().count() == 0


async def test_member_for_fact_never_finds_another_brands_member(brand_a, brand_b, register):
    other = await register(brand_b, phone="+12025550123")
    scope = BrandScope(brand_a)
    with pytest.raises(DomainError) as caught:
        async with unit_of_work(scope) as uow:
            await service.member_for_fact(scope, uow, member_id=other.id, identity=None)
    assert caught.value.code == "UNKNOWN_MEMBER"


async def test_update_emits_member_updated_with_changed_fields(brand_a, register, record_events):
    log = await record_events(brand_a)
    member = await register(brand_a, phone="13800138000")
    await service.update_member(
        BrandScope(brand_a), member.id, {"name": "Han Meimei", "birthday": date(1990, 5, 1)}
    )
    await service.update_member(BrandScope(brand_a), member.id, {"name": "Han Meimei"})
    updates = log.named("member.updated")
    assert [e.payload["changed"] for e in updates] == [["birthday", "name"]]


async def test_status_changes_follow_the_rules(brand_a, register):
    from tessera.members.profile import MemberStatus

    scope = BrandScope(brand_a)
    member = await register(brand_a, phone="13800138000")
    member = await service.update_member(scope, member.id, {}, status=MemberStatus.FROZEN)
    assert member.status == "frozen"
    member = await service.update_member(scope, member.id, {}, status=MemberStatus.CANCELLED)
    with pytest.raises(DomainError) as caught:
        await service.update_member(scope, member.id, {}, status=MemberStatus.ACTIVE)
    assert caught.value.code == "INVALID_STATUS"
    assert (await Member.get(id=member.id)).status == "cancelled"


def test_an_email_domain_checked_before_is_judged_the_same_again():
    # Valid domains are remembered (an import's addresses share a few); an
    # invalid one is refused every time, and the address's own part is
    # checked every time.
    for _ in range(2):
        assert normalise(IdentityKind.EMAIL, "Ann@Example.COM", "CN", ["email"]) == (
            "ann@example.com"
        )
        with pytest.raises(DomainError) as bad_domain:
            normalise(IdentityKind.EMAIL, "ann@exa_mple..com", "CN", ["email"])
        assert bad_domain.value.code == "INVALID_EMAIL"
        with pytest.raises(DomainError) as bad_local:
            normalise(IdentityKind.EMAIL, "ann..lee@example.com", "CN", ["email"])
        assert bad_local.value.code == "INVALID_EMAIL"


async def test_the_first_page_statement_reads_what_the_filtered_query_reads(
    brand_a, brand_b, register
):
    """``search.first_page`` (the members page without filter, written out)
    gives the rows ``filtered_members`` ordered and limited gives, converted
    alike: dates, times, JSON, sealed columns; tombstones and other brands left out."""
    from tessera.members.search import MemberFilter, MemberSort, filtered_members, first_page
    from tessera.schema.members.types import MEMBER_COLUMNS

    scope = BrandScope(brand_a)
    at = datetime(2025, 1, 1, tzinfo=UTC)
    for i in range(7):
        member = await register(
            brand_a,
            name=f"N{i % 3}",
            phone=f"1380013800{i}",
            birthday=date(1990, 1, i + 1),
            interests=["tea", f"i{i}"],
        )
        # Two share a join time: the id breaks the tie.
        await Member.filter(id=member.id).update(
            joined_at=at + timedelta(hours=i // 2), attributes={"level": i, "vip": i % 2 == 0}
        )
    survivor = await Member.filter(brand_id=brand_a.id).first()
    tombstone = await register(brand_a, name="Gone", phone="13900139000")
    await Member.filter(id=tombstone.id).update(merged_into_id=survivor.id)
    await register(brand_b, name="Other brand", phone="13900139001")

    for sort in MemberSort:
        prefix = "-" if sort.descending else ""
        for limit in (1, 4, 20):
            expected = (
                await (await filtered_members(scope, MemberFilter()))
                .order_by(f"{prefix}{sort.field}", f"{prefix}id")
                .limit(limit)
                .values(*MEMBER_COLUMNS)
            )
            assert await first_page(scope, sort, limit, MEMBER_COLUMNS) == expected
    assert len(await first_page(scope, MemberSort.NAME_ASC, 20, MEMBER_COLUMNS)) == 7


@pytest.mark.parametrize(
    "value",
    [
        datetime(2025, 1, 1, 9, 30, tzinfo=UTC),  # as PostgreSQL's driver gives it
        datetime(2025, 1, 1, 9, 30, tzinfo=timezone(timedelta(hours=8))),
        datetime(2025, 1, 1, 9, 30),  # naive, as SQLite's may
        "2025-01-01 09:30:00",
        "2025-01-01T09:30:00+08:00",
        None,
    ],
)
def test_the_first_pages_times_are_converted_as_tortoise_converts_them(value):
    from tessera.members.search import _converter

    field = Member._meta.fields_map["joined_at"]
    ours, tortoises = _converter(field)(value), field.to_python_value(value)
    assert ours == tortoises
    assert repr(ours) == repr(tortoises)  # the same zone too
