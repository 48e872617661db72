"""People: one shopper across the tenant's brands (docs/persons.md). Only for
tenant owners (the ``persons`` scope, which an owner of every brand of the
tenant holds): a lookup by phone or WeChat unionid, and the person panel of
a member's profile, through the reads ``person``/``personByIdentity`` use."""

from __future__ import annotations

from typing import Any

from starlette.responses import Response

from tessera.admin_ui.context import Ctx
from tessera.admin_ui.i18n import N_
from tessera.admin_ui.registry import page
from tessera.auth.scopes import Scope
from tessera.errors import DomainError
from tessera.members.identities import IdentityKind
from tessera.persons import reading
from tessera.persons.linking import LINKING_KINDS
from tessera.persons.models import Person
from tessera.persons.reading import TenantScope

# The identities a person is found by, with their labels.
KINDS = {
    IdentityKind.PHONE.value: N_("Phone"),
    IdentityKind.WECHAT_UNIONID.value: N_("WeChat unionid"),
}
assert set(KINDS) == {k.value for k in LINKING_KINDS}


async def person_view(tenant: TenantScope, person: Person | None) -> dict[str, Any] | None:
    """What the person panel shows: its members brand by brand and the
    combined figures (one query each)."""
    if person is None:
        return None
    return {
        "person": person,
        "memberships": (await reading.memberships(tenant, [person.id]))[person.id],
        "figures": (await reading.combined(tenant, [person.id]))[person.id],
    }


async def member_person(ctx: Ctx, member_id: int) -> dict[str, Any] | None:
    """The person panel of a member's profile, for tenant owners only."""
    if not ctx.can(Scope.PERSONS):
        return None
    tenant = TenantScope.of(ctx.scope)
    view = await person_view(tenant, await reading.person_of_member(tenant, member_id))
    return view or {"person": None}


@page("/people", "people", permission=Scope.PERSONS, title=N_("People"), nav_group="Members")
async def people(ctx: Ctx) -> Response:
    kind = ctx.request.query_params.get("kind", IdentityKind.PHONE.value)
    value = ctx.request.query_params.get("value", "").strip()
    tenant = TenantScope.of(ctx.scope)
    errors: dict[str, list[str]] = {}
    view = None
    if value:
        try:
            view = await person_view(tenant, await reading.person_by_identity(tenant, kind, value))
        except DomainError as error:
            errors = {str(error.field[-1] if error.field else ""): [error.message]}
    return ctx.render(
        "people.html",
        status=422 if errors else 200,
        title=N_("People"),
        kinds=KINDS,
        kind=kind,
        value=value,
        errors=errors,
        view=view,
        searched=bool(value) and not errors,
    )
