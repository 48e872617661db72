"""Tags, tag groups and rule tags, through the services and the manage scope
of ``createTag``/``updateTag``/``deleteTag``, the tag-group mutations and
``setTagRule``. Form fields carry the API's input names, so the services'
errors land beside them."""

from __future__ import annotations

from typing import Any

from starlette.responses import Response

from tessera.admin_ui.context import STALE_FORM, Ctx, errors_of, version_of
from tessera.admin_ui.i18n import N_
from tessera.admin_ui.registry import page
from tessera.admin_ui.rulebuilder import (
    Builder,
    Submitted,
    preview_box,
    preview_values,
    rule_editor,
    rule_text,
    submitted,
)
from tessera.auth.scopes import Scope
from tessera.errors import DomainError
from tessera.segments import autotags
from tessera.segments.jobs import enqueue_tag_rule
from tessera.tags import service
from tessera.tags.models import Tag, TagGroup

TAG_FIELDS = ("code", "name", "description", "groupId", "defaultExpiryDays")
GROUP_FIELDS = ("code", "name", "description")


def _typed(form: Any, names: tuple[str, ...]) -> dict[str, str]:
    return {name: str(form.get(name, "")).strip() for name in names}


def _group_id(raw: str) -> int | None:
    return int(raw) if raw.isdigit() else None


def _expiry_days(raw: str) -> int | None:
    """The expiry as the API's ``Int`` input would carry it."""
    if not raw:
        return None
    if not raw.isdigit():
        raise DomainError("INVALID", "must be a whole number of days", ["defaultExpiryDays"])
    return int(raw)


def _tag_version(tag: Tag) -> str:
    return version_of(tag.name, tag.description, tag.group_id, tag.default_expiry_days)


def _group_version(group: TagGroup) -> str:
    return version_of(group.name, group.description)


async def _list(
    ctx: Ctx,
    status: int = 200,
    errors: dict[str, list[str]] | None = None,
    typed: dict[str, str] | None = None,
    group_errors: dict[str, list[str]] | None = None,
    group_typed: dict[str, str] | None = None,
) -> Response:
    groups = await service.list_groups(ctx.scope)
    found = list(await service.tags_query(ctx.scope).order_by("code"))
    return ctx.render(
        "tags.html",
        status=status,
        title=N_("Tags"),
        tags=found,
        counts=await service.member_counts(ctx.scope, [t.id for t in found]),
        groups=groups,
        group_names={g.id: g.name for g in groups},
        errors=errors or {},
        values=typed or {},
        group_errors=group_errors or {},
        group_values=group_typed or {},
        can_manage=ctx.can(Scope.MANAGE),
    )


@page("/tags", "tags", permission=Scope.READ, title=N_("Tags"), nav_group="Members")
async def tag_list(ctx: Ctx) -> Response:
    return await _list(ctx)


@page("/tags", "tag_create", permission=Scope.MANAGE, methods=("POST",))
async def tag_create(ctx: Ctx) -> Response:
    """Like ``createTag`` (manage scope)."""
    typed = _typed(await ctx.form(), TAG_FIELDS)
    try:
        expiry = _expiry_days(typed["defaultExpiryDays"])
        tag = await ctx.audited(
            "createTag",
            {**typed, "defaultExpiryDays": expiry},
            lambda: service.create_tag(
                ctx.scope,
                typed["code"],
                typed["name"],
                description=typed["description"],
                group_id=_group_id(typed["groupId"]),
                default_expiry_days=expiry,
            ),
        )
    except DomainError as error:
        return await _list(ctx, 422, errors_of(error), typed)
    return ctx.redirect(ctx.url("tag", tag_id=tag.id), ctx.gettext("Tag created."))


@page("/tag-groups", "tag_group_create", permission=Scope.MANAGE, methods=("POST",))
async def tag_group_create(ctx: Ctx) -> Response:
    """Like ``createTagGroup`` (manage scope)."""
    typed = _typed(await ctx.form(), GROUP_FIELDS)
    try:
        await ctx.audited(
            "createTagGroup",
            typed,
            lambda: service.create_group(
                ctx.scope, typed["code"], typed["name"], typed["description"]
            ),
        )
    except DomainError as error:
        return await _list(ctx, 422, group_errors=errors_of(error), group_typed=typed)
    return ctx.redirect(ctx.url("tags"), ctx.gettext("Tag group created."))


# --- one tag ---------------------------------------------------------------------


async def _tag_page(
    ctx: Ctx,
    tag: Tag,
    status: int = 200,
    *,
    errors: dict[str, list[str]] | None = None,
    typed: dict[str, str] | None = None,
    sent: Submitted | None = None,
    with_preview: bool = False,
    rule_version: str | None = None,
) -> Response:
    found = {**(sent.errors if sent else {}), **(errors or {})}
    shown: dict[str, Any] = {"count": None, "sample": []}
    if sent is not None and with_preview:
        shown = await preview_values(ctx, sent)
        found = {**shown.pop("errors"), **found}
    values = typed or {
        "name": tag.name,
        "description": tag.description,
        "groupId": str(tag.group_id or ""),
        "defaultExpiryDays": str(tag.default_expiry_days or ""),
    }
    return ctx.render(
        "tag.html",
        status=status,
        title=N_("Tag"),
        tag=tag,
        groups=await service.list_groups(ctx.scope),
        values=values,
        version=_tag_version(tag),
        # A preview keeps the version the posted rule form was built from.
        rule_version=rule_version if rule_version is not None else version_of(tag.rule),
        can_manage=ctx.can(Scope.MANAGE),
        **rule_editor(
            builder=sent.builder if sent else Builder.from_rule(tag.rule),
            json_text=sent.json_text if sent else rule_text(tag.rule),
            preview_url=ctx.url("tag_rule_preview", tag_id=tag.id),
            errors=found,
            source=sent.source if sent else "builder",
            **shown,
        ),
    )


@page("/tags/{tag_id:int}", "tag", permission=Scope.READ)
async def tag_page(ctx: Ctx) -> Response:
    tag = await ctx.row(Tag, "tag_id")
    if tag is None:
        return ctx.not_found()
    return await _tag_page(ctx, tag)


@page("/tags/{tag_id:int}", "tag_save", permission=Scope.MANAGE, methods=("POST",))
async def tag_save(ctx: Ctx) -> Response:
    """Like ``updateTag`` (manage scope); the code cannot change."""
    tag = await ctx.row(Tag, "tag_id")
    if tag is None:
        return ctx.not_found()
    typed = _typed(await ctx.form(), TAG_FIELDS)
    if await ctx.stale(_tag_version(tag)):
        return await _tag_page(ctx, tag, 409, errors=ctx.stale_errors())
    try:
        changes = {
            "name": typed["name"],
            "description": typed["description"],
            "group_id": _group_id(typed["groupId"]),
            "default_expiry_days": _expiry_days(typed["defaultExpiryDays"]),
        }
        await ctx.audited(
            "updateTag",
            {"id": tag.id, **changes},
            lambda: service.update_tag(ctx.scope, tag.id, changes),
        )
    except DomainError as error:
        # The service changes the object it loaded; show the stored tag again.
        stored = await ctx.row(Tag, "tag_id") or tag
        return await _tag_page(ctx, stored, 422, errors=errors_of(error), typed=typed)
    return ctx.redirect(ctx.url("tag", tag_id=tag.id), ctx.gettext("Saved."))


@page("/tags/{tag_id:int}/rule", "tag_rule", permission=Scope.MANAGE, methods=("POST",))
async def tag_rule(ctx: Ctx) -> Response:
    """Like ``setTagRule`` (manage scope): the rule from the builder or the
    JSON editor, or none (``clear``), which takes off the rule's assignments."""
    tag = await ctx.row(Tag, "tag_id")
    if tag is None:
        return ctx.not_found()
    form = await ctx.form()
    clear = form.get("clear") == "on"
    sent = submitted(form)
    if await ctx.stale(version_of(tag.rule)):
        return await _tag_page(ctx, tag, 409, errors={"rule": [ctx.gettext(STALE_FORM)]})
    if sent.errors:
        return await _tag_page(ctx, tag, 422, sent=sent)
    rule = None if clear else sent.rule
    if rule is None and not clear:
        return await _tag_page(
            ctx, tag, 422, sent=sent, errors={"rule": [ctx.gettext("Add a condition first.")]}
        )
    try:
        updated = await ctx.audited(
            "setTagRule",
            {"tagId": tag.id, "rule": rule},
            lambda: autotags.set_tag_rule(ctx.scope, tag.id, rule),
        )
    except DomainError as error:
        return await _tag_page(ctx, tag, 422, sent=sent, errors=sent.problems(error))
    if updated.rule is not None:
        await enqueue_tag_rule(ctx.scope, updated.id)
    return ctx.redirect(
        ctx.url("tag", tag_id=tag.id),
        ctx.gettext("Rule cleared.") if clear else ctx.gettext("Rule saved."),
    )


@page(
    "/tags/{tag_id:int}/rule/preview", "tag_rule_preview", permission=Scope.READ, methods=("POST",)
)
async def tag_rule_preview(ctx: Ctx) -> Response:
    """Like ``previewSegment`` (read scope), for the tag's rule editor."""
    tag = await ctx.row(Tag, "tag_id")
    if tag is None:
        return ctx.not_found()
    form = await ctx.form()
    sent = submitted(form)
    if ctx.htmx:
        return await preview_box(ctx, sent, ctx.url("tag_rule_preview", tag_id=tag.id))
    return await _tag_page(
        ctx,
        tag,
        sent=sent,
        with_preview=True,
        rule_version=await ctx.posted_version(),
    )


@page("/tags/{tag_id:int}/delete", "tag_delete_confirm", permission=Scope.MANAGE)
async def tag_delete_confirm(ctx: Ctx) -> Response:
    tag = await ctx.row(Tag, "tag_id")
    if tag is None:
        return ctx.not_found()
    return _confirm(ctx, tag)


def _confirm(
    ctx: Ctx, tag: Tag, errors: dict[str, list[str]] | None = None, status: int = 200
) -> Response:
    return ctx.confirm_delete(
        N_("Delete tag"),
        f"{tag.name} ({tag.code})",
        note=ctx.gettext("The tag is taken off every member who has it."),
        action=ctx.url("tag_delete", tag_id=tag.id),
        back=ctx.url("tag", tag_id=tag.id),
        errors=errors,
        status=status,
    )


@page("/tags/{tag_id:int}/delete", "tag_delete", permission=Scope.MANAGE, methods=("POST",))
async def tag_delete(ctx: Ctx) -> Response:
    """Like ``deleteTag`` (manage scope)."""
    tag = await ctx.row(Tag, "tag_id")
    if tag is None:
        return ctx.not_found()
    try:
        await ctx.audited(
            "deleteTag", {"id": tag.id}, lambda: service.delete_tag(ctx.scope, tag.id)
        )
    except DomainError as error:
        return _confirm(ctx, tag, errors_of(error), 422)
    return ctx.redirect(ctx.url("tags"), ctx.gettext("Tag deleted."))


# --- one tag group ------------------------------------------------------------


def _group_page(
    ctx: Ctx,
    group: TagGroup,
    status: int = 200,
    errors: dict[str, list[str]] | None = None,
    typed: dict[str, str] | None = None,
) -> Response:
    return ctx.render(
        "tag_group.html",
        status=status,
        title=N_("Tag group"),
        group=group,
        values=typed or {"name": group.name, "description": group.description},
        version=_group_version(group),
        errors=errors or {},
        can_manage=ctx.can(Scope.MANAGE),
    )


@page("/tag-groups/{group_id:int}", "tag_group", permission=Scope.READ)
async def tag_group_page(ctx: Ctx) -> Response:
    group = await ctx.row(TagGroup, "group_id")
    if group is None:
        return ctx.not_found()
    return _group_page(ctx, group)


@page("/tag-groups/{group_id:int}", "tag_group_save", permission=Scope.MANAGE, methods=("POST",))
async def tag_group_save(ctx: Ctx) -> Response:
    """Like ``updateTagGroup`` (manage scope)."""
    group = await ctx.row(TagGroup, "group_id")
    if group is None:
        return ctx.not_found()
    typed = _typed(await ctx.form(), ("name", "description"))
    if await ctx.stale(_group_version(group)):
        return _group_page(ctx, group, 409, ctx.stale_errors())
    try:
        await ctx.audited(
            "updateTagGroup",
            {"id": group.id, **typed},
            lambda: service.update_group(
                ctx.scope, group.id, name=typed["name"], description=typed["description"]
            ),
        )
    except DomainError as error:
        stored = await ctx.row(TagGroup, "group_id") or group
        return _group_page(ctx, stored, 422, errors_of(error), typed)
    return ctx.redirect(ctx.url("tag_group", group_id=group.id), ctx.gettext("Saved."))


@page("/tag-groups/{group_id:int}/delete", "tag_group_delete_confirm", permission=Scope.MANAGE)
async def tag_group_delete_confirm(ctx: Ctx) -> Response:
    group = await ctx.row(TagGroup, "group_id")
    if group is None:
        return ctx.not_found()
    return ctx.confirm_delete(
        N_("Delete tag group"),
        group.name,
        note=ctx.gettext("Its tags stay, without a group."),
        action=ctx.url("tag_group_delete", group_id=group.id),
        back=ctx.url("tag_group", group_id=group.id),
    )


@page(
    "/tag-groups/{group_id:int}/delete",
    "tag_group_delete",
    permission=Scope.MANAGE,
    methods=("POST",),
)
async def tag_group_delete(ctx: Ctx) -> Response:
    """Like ``deleteTagGroup`` (manage scope)."""
    group = await ctx.row(TagGroup, "group_id")
    if group is None:
        return ctx.not_found()
    await ctx.audited(
        "deleteTagGroup", {"id": group.id}, lambda: service.delete_group(ctx.scope, group.id)
    )
    return ctx.redirect(ctx.url("tags"), ctx.gettext("Tag group deleted."))
