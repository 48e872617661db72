"""Members of one tenant's brands become one person through a shared phone or
WeChat unionid (on joining, on an identity added, on import); another
tenant's equal phone never links; persons sharing a digest are joined; the
rebuild gives the same grouping as the incremental path."""

from __future__ import annotations

import asyncio

import pytest
from person_checks import grouping, person_of

from tessera.importing.csv_rows import CsvSource
from tessera.importing.members import check_header, import_members
from tessera.importing.rejects import RejectsFile
from tessera.members import service
from tessera.members.attributes import definitions_by_key
from tessera.members.merge import merge_members, undo_merge
from tessera.persons import linking
from tessera.persons.models import Person, PersonIdentity, PersonMember
from tessera.privacy import document
from tessera.privacy.erasure import ErasureReason, erase_member
from tessera.scope import BrandScope
from tessera.tenancy.models import Tenant

PHONE = "13800138000"
UNIONID = "oU-union-1"


async def test_joining_in_two_brands_with_one_phone_makes_one_person(group, join, drain_outbox):
    tea, shoes, other = group
    a = await join(tea, name="Li", phone=PHONE)
    b = await join(shoes, name="Li L.", phone="+86 138-0013-8000")
    c = await join(other, name="Li", phone=PHONE)
    await drain_outbox()
    assert await person_of(a) is not None
    assert await person_of(a) == await person_of(b)
    assert await grouping(tea.tenant_id) == {frozenset({a.id, b.id})}
    # The rival tenant's member has a person of its own: digests differ per tenant.
    assert await grouping(other.tenant_id) == {frozenset({c.id})}
    digests = await PersonIdentity.filter(kind="phone").values_list("tenant_id", "digest")
    assert len({d for t, d in digests if t == tea.tenant_id}) == 1
    assert {d for t, d in digests if t == tea.tenant_id}.isdisjoint(
        {d for t, d in digests if t == other.tenant_id}
    )
    # No clear value anywhere in the person tables.
    assert all("8613800138000" not in d for _, d in digests)


async def test_email_does_not_link_and_members_without_linking_identities_have_no_person(
    group, join, drain_outbox
):
    tea, shoes, _ = group
    a = await join(tea, email="li@example.com")
    b = await join(shoes, email="li@example.com")
    await drain_outbox()
    assert await person_of(a) is None and await person_of(b) is None
    assert await PersonIdentity.all().count() == 0


async def test_an_added_unionid_links_and_joins_two_persons_into_the_older(
    group, join, drain_outbox
):
    tea, shoes, _ = group
    a = await join(tea, phone=PHONE)
    b = await join(shoes, phone="13900139000")
    await drain_outbox()
    older, younger = await person_of(a), await person_of(b)
    assert older is not None and younger is not None and older < younger
    await service.add_identity(BrandScope(tea), a.id, "wechat_unionid", UNIONID)
    await service.add_identity(BrandScope(shoes), b.id, "wechat_unionid", UNIONID)
    await drain_outbox()
    assert await person_of(a) == await person_of(b) == older
    # The younger person lives on as a pointer to the survivor.
    assert (await Person.get(id=younger)).merged_into_id == older
    assert await grouping(tea.tenant_id) == {frozenset({a.id, b.id})}


async def test_removing_the_bridging_identity_splits_the_person(group, join, drain_outbox):
    tea, shoes, _ = group
    a = await join(tea, phone=PHONE, identities=[("wechat_unionid", UNIONID)])
    b = await join(shoes, phone=PHONE)
    await drain_outbox()
    assert await grouping(tea.tenant_id) == {frozenset({a.id, b.id})}
    await service.update_member(BrandScope(shoes), b.id, {"phone": "13900139000"})
    await drain_outbox()
    assert await grouping(tea.tenant_id) == {frozenset({a.id}), frozenset({b.id})}
    await service.remove_identity(BrandScope(tea), a.id, "phone", PHONE)
    await drain_outbox()
    # a keeps its unionid, so its person.
    assert await grouping(tea.tenant_id) == {frozenset({a.id}), frozenset({b.id})}


async def test_forget_member_unlinks_and_removes_its_digests(group, join, drain_outbox):
    tea, shoes, _ = group
    a = await join(tea, phone=PHONE)
    b = await join(shoes, phone=PHONE)
    await drain_outbox()
    await linking.forget_member(BrandScope(tea), a.id)
    assert await PersonIdentity.filter(member_id=a.id).count() == 0
    assert await person_of(a) is None
    assert await grouping(tea.tenant_id) == {frozenset({b.id})}


async def test_the_members_data_export_names_its_person_and_what_links_it(
    group, join, drain_outbox
):
    tea, shoes, _ = group
    a = await join(tea, phone=PHONE)
    await join(shoes, phone=PHONE)
    await drain_outbox()
    exported = await document.build(BrandScope(tea), a.id)
    assert exported["person"] == {"person_id": await person_of(a), "linked_by": ["phone"]}
    assert exported["person"]["person_id"] is not None


async def test_erasing_a_member_takes_it_out_of_its_person(group, join, drain_outbox):
    tea, shoes, _ = group
    a = await join(tea, phone=PHONE)
    b = await join(shoes, phone=PHONE)
    await drain_outbox()
    await erase_member(BrandScope(tea), a.id, ErasureReason.MEMBER_REQUEST)
    await drain_outbox()
    assert await PersonIdentity.filter(member_id=a.id).count() == 0
    assert await grouping(tea.tenant_id) == {frozenset({b.id})}


async def test_a_merge_moves_the_link_to_the_survivor_and_its_undo_moves_it_back(
    group, join, drain_outbox
):
    tea, shoes, _ = group
    survivor = await join(tea, email="x@example.com")
    merged = await join(tea, phone=PHONE)
    other = await join(shoes, phone=PHONE)
    await drain_outbox()
    scope = BrandScope(tea)
    done = await merge_members(scope, survivor.id, merged.id, idempotency_key="m1")
    await drain_outbox()
    assert await person_of(merged) is None
    assert await grouping(tea.tenant_id) == {frozenset({survivor.id, other.id})}
    await undo_merge(scope, done.merge.id)
    await drain_outbox()
    assert await person_of(survivor) is None
    assert await grouping(tea.tenant_id) == {frozenset({merged.id, other.id})}


async def test_relink_member_moves_the_link_to_the_survivor(group, join, drain_outbox):
    tea, shoes, _ = group
    merged = await join(tea, phone=PHONE)
    survivor = await join(tea, email="x@example.com")
    other = await join(shoes, phone=PHONE)
    await drain_outbox()
    await linking.relink_member(BrandScope(tea), merged.id, survivor.id)
    assert await person_of(merged) is None
    assert await grouping(tea.tenant_id) == {frozenset({survivor.id, other.id})}


async def test_an_import_links_to_the_other_brand(group, join, drain_outbox, write_csv, tmp_path):
    tea, shoes, other = group
    a = await join(tea, phone=PHONE)
    await join(other, phone="13900139000")
    path = write_csv(
        "m.csv",
        ["external_id", "name", "phone", "identity.wechat_unionid"],
        [["x-1", "Li", PHONE, ""], ["x-2", "Wang", "13900139000", ""], ["x-3", "Zhao", "", "u3"]],
    )
    scope = BrandScope(shoes)
    source = CsvSource(path)
    check_header(source.header, await definitions_by_key(scope))
    with RejectsFile(tmp_path / "rejects.csv", source.header) as rejects:
        report = await import_members(scope, source, rejects)
    assert report.created == 3
    await drain_outbox()
    imported = {m.external_id: m.id for m in await scope.query(service.Member).all()}
    assert await grouping(tea.tenant_id) == {
        frozenset({a.id, imported["x-1"]}),
        frozenset({imported["x-2"]}),
        frozenset({imported["x-3"]}),
    }


async def test_the_rebuild_gives_the_incremental_grouping(group, join, drain_outbox):
    tea, shoes, other = group
    members = [
        await join(tea, phone=PHONE),
        await join(shoes, phone=PHONE, identities=[("wechat_unionid", "u1")]),
        await join(tea, phone="13900139000", identities=[("wechat_unionid", "u2")]),
        await join(shoes, phone="13700137000", identities=[("wechat_unionid", "u2")]),
        await join(tea, email="only@example.com"),
        await join(other, phone=PHONE),
    ]
    await drain_outbox()
    tenant = await Tenant.get(id=tea.tenant_id)
    incremental = await grouping(tenant.id)
    assert len(incremental) == 2
    survivors = set(await PersonMember.all().values_list("person_id", flat=True))
    await PersonMember.filter(tenant_id=tenant.id).delete()
    await PersonIdentity.filter(tenant_id=tenant.id).delete()
    report = await linking.rebuild(tenant)
    assert report.persons == 2 and report.linked_members == 4
    assert await grouping(tenant.id) == incremental
    assert members[-1].id not in {m for g in incremental for m in g}
    # The rival tenant's person is not touched.
    assert (
        set(
            await PersonMember.filter(tenant_id=other.tenant_id).values_list("person_id", flat=True)
        )
        <= survivors
    )
    # A rebuild over intact persons keeps their ids.
    before = set(await PersonMember.all().values_list("person_id", "member_id"))
    await linking.rebuild(tenant)
    assert set(await PersonMember.all().values_list("person_id", "member_id")) == before


@pytest.mark.postgres_only
async def test_two_brands_linking_one_phone_at_once_make_one_person(group, join, drain_outbox):
    tea, shoes, _ = group
    for round_ in range(3):
        phone = f"1380013801{round_}"
        a = await join(tea, phone=phone)
        b = await join(shoes, phone=phone)
        # Both link jobs at the same moment, each in its own transaction.
        await asyncio.gather(
            linking.persons_link({}, tea.id, [a.id]), linking.persons_link({}, shoes.id, [b.id])
        )
        assert await person_of(a) == await person_of(b) is not None
    await drain_outbox()
    assert len(await grouping(tea.tenant_id)) == 3


async def test_prospects_link_too_one_by_one_and_in_a_batch(group, join, drain_outbox):
    from tessera.members.batch import MemberDraft, create_members
    from tessera.members.identities import IdentityKind
    from tessera.members.scheme import JoinRule, update_settings

    tea, shoes, _ = group
    await update_settings(BrandScope(shoes), join_rule=JoinRule.FIRST_PURCHASE)
    a = await join(tea, phone=PHONE)
    await drain_outbox()
    b = await join(shoes, phone=PHONE)
    assert b.status == "prospect"
    [c] = await create_members(
        BrandScope(shoes),
        [MemberDraft({"phone": "+8613900139000"}, [(IdentityKind.PHONE, "+8613900139000")])],
    )
    await drain_outbox()
    assert await grouping(tea.tenant_id) == {frozenset({a.id, b.id}), frozenset({c})}
    # The rebuild groups prospects alike.
    await linking.rebuild(await Tenant.get(id=tea.tenant_id))
    assert await grouping(tea.tenant_id) == {frozenset({a.id, b.id}), frozenset({c})}
