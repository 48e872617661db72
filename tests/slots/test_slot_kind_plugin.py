"""A partner's slot kind: it gets the stored data it asks for, and a failure
shows nothing and lands in the slot's lastError instead of failing the page."""

from __future__ import annotations

from typing import Any

from documents import RESOLVE
from pydantic import BaseModel

from tessera import DomainError, SlotEntry, SlotKind, SlotNeeds, hookimpl


class EchoConfig(BaseModel):
    fail: str = ""


class Echo(SlotKind):
    key = "acme.echo"
    title = "Echo"
    Config = EchoConfig

    def needs(self) -> SlotNeeds:
        return SlotNeeds(member_facts=True, purchases=True)

    async def render(self, member: Any, data: Any) -> list[SlotEntry]:
        if self.config.fail == "domain":  # type: ignore[attr-defined]
            raise DomainError("INVALID", "the feed is not configured")
        if self.config.fail == "crash":  # type: ignore[attr-defined]
            raise RuntimeError("boom")
        return [
            SlotEntry("none", f"member {member.id} tags {sorted(member.tags)} slot {data.slot}")
        ]


class EchoPlugin:
    @hookimpl
    def tessera_register_slot_kinds(self) -> list[type[SlotKind]]:
        return [Echo]


async def test_a_partner_kind_renders_and_its_failures_become_last_error(
    brand_a, register_plugin, enable_feature, api_key, gql, person
):
    register_plugin(EchoPlugin(), "acme")
    await enable_feature(brand_a, "acme.echo", slot="echo", config={})
    token = await api_key(brand_a, "read")
    member = await person(brand_a)
    data = await gql(RESOLVE, {"k": "echo", "m": member.id}, token=token)
    assert [e["reason"] for e in data["slot"]["entries"]] == [
        f"member {member.pk} tags [] slot echo"
    ]

    for mode, message in (
        ("domain", "the feed is not configured"),
        ("crash", "RuntimeError: boom"),
    ):
        await enable_feature(brand_a, "acme.echo", slot="echo", config={"fail": mode})
        data = await gql(RESOLVE, {"k": "echo", "m": member.id}, token=token)
        assert data["slot"]["entries"] == []
        slots = await gql("{ slots { key lastError } }", token=token)
        assert slots["slots"] == [{"key": "echo", "lastError": message}]

    await enable_feature(brand_a, "acme.echo", slot="echo", config={})
    await gql(RESOLVE, {"k": "echo", "m": member.id}, token=token)
    assert (await gql("{ slots { lastError } }", token=token))["slots"] == [{"lastError": None}]
