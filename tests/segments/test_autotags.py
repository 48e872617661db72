"""Automatic tags: the rule puts a tag on and takes it off (source RULE),
never touching another source's assignment of the same tag."""

from __future__ import annotations

from datetime import UTC, datetime

from tessera.members.service import update_member
from tessera.scope import BrandScope
from tessera.segments import autotags
from tessera.tags.models import TagAssignment
from tessera.tags.service import TagSource, create_tag, tag_members

IN_HANGZHOU = {"type": "profile", "field": "city", "in": ["Hangzhou"]}


async def sources(tag_id: int) -> set[tuple[int, str]]:
    rows = await TagAssignment.filter(tag_id=tag_id).values_list("member_id", "source")
    return set(rows)


async def test_a_rule_tag_never_removes_a_manual_assignment(brand_a, make_member, drain_outbox):
    scope = BrandScope(brand_a)
    local = await make_member(brand_a, city="Hangzhou")
    vip = await make_member(brand_a, city="Shanghai")
    tag = await create_tag(scope, "local", "Local")
    await tag_members(scope, ["local"], member_ids=[local.id, vip.id], source=TagSource.MANUAL)
    await autotags.set_tag_rule(scope, tag.id, IN_HANGZHOU)

    diff = await autotags.evaluate_tag(scope, tag.id)

    assert (diff.entered, diff.exited) == (1, 0)
    assert await sources(tag.id) == {
        (local.id, "manual"),
        (vip.id, "manual"),
        (local.id, "rule"),
    }

    # The local member moves away: the rule's assignment goes, the manual one stays.
    await update_member(scope, local.id, {"city": "Ningbo"})
    await drain_outbox()
    assert await sources(tag.id) == {(local.id, "manual"), (vip.id, "manual")}

    # Taking the rule away removes only what the rule put there.
    await update_member(scope, vip.id, {"city": "Hangzhou"})
    await drain_outbox()
    assert (vip.id, "rule") in await sources(tag.id)
    await autotags.set_tag_rule(scope, tag.id, None)
    assert await sources(tag.id) == {(local.id, "manual"), (vip.id, "manual")}


async def test_a_rule_tag_follows_orders_as_they_are_recorded(
    brand_a, make_member, buy, drain_outbox
):
    scope = BrandScope(brand_a)
    member = await make_member(brand_a)
    tag = await create_tag(scope, "buyer", "Buyer")
    await autotags.set_tag_rule(scope, tag.id, {"type": "stats", "metric": "ordersCount", "min": 1})
    await autotags.evaluate_tag(scope, tag.id)
    assert await sources(tag.id) == set()

    await buy(brand_a, member, at=datetime.now(UTC))
    await drain_outbox()

    assert await sources(tag.id) == {(member.id, "rule")}


async def test_a_bad_tag_rule_is_refused_with_its_path(brand_a):
    scope = BrandScope(brand_a)
    tag = await create_tag(scope, "odd", "Odd")
    from tessera.errors import DomainError

    try:
        await autotags.set_tag_rule(scope, tag.id, {"all": [IN_HANGZHOU, {"type": "nope"}]})
    except DomainError as error:
        assert error.field is not None and error.field[:3] == ["rule", "all", "1"]
    else:
        raise AssertionError("the rule was accepted")
    await tag.refresh_from_db()
    assert tag.rule is None
