"""Segments: the list with size and last refresh, a rule builder with a live
count and sample (the same preview as ``previewSegment``), size history,
refresh, a streamed CSV export and static list upload — each through the
service and scope of its GraphQL operation."""

from __future__ import annotations

import csv
import io
from collections.abc import AsyncIterator
from typing import Any

from starlette.datastructures import UploadFile
from starlette.responses import Response, StreamingResponse

from tessera.admin_ui.context import Ctx, errors_of, version_of
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
from tessera.errors import DomainError, DomainErrors
from tessera.members import pii
from tessera.segments import imports, service
from tessera.segments.jobs import enqueue_refresh, refresh_later
from tessera.segments.models import Segment
from tessera.segments.service import RefreshTrigger, SegmentKind

# 100,000 rows (imports.MAX_ROWS) of the longest identity (an email) fit.
MAX_UPLOAD = 30_000_000
EXPORT_PAGE = 1000  # members read per query while streaming an export
# Stored values shown through the catalog (msgids for the extractor).
SHOWN_VALUES = (
    N_("dynamic"),
    N_("static"),
    N_("manual"),
    N_("created"),
    N_("schedule"),
    N_("job"),
    N_("import"),
    N_("dependency"),
)
EXPORT_COLUMNS = ("member_id", "card_number", "name", "phone", "email", "external_id", "joined_at")


def _version(segment: Segment) -> str:
    return version_of(segment.name, segment.description, segment.rule)


@page("/segments", "segments", permission=Scope.READ, title=N_("Segments"), nav_group="Members")
async def segment_list(ctx: Ctx) -> Response:
    segments = list(await service.segments_query(ctx.scope).order_by("name", "id"))
    return ctx.render(
        "segments.html",
        title=N_("Segments"),
        segments=segments,
        last=await service.last_refreshes(ctx.scope, [s.id for s in segments]),
        can_manage=ctx.can(Scope.MANAGE),
    )


async def _form(
    ctx: Ctx,
    segment: Segment | None,
    status: int = 200,
    *,
    sent: Submitted | None = None,
    typed: dict[str, str] | None = None,
    errors: dict[str, list[str]] | None = None,
    with_preview: bool = False,
    version: str | None = None,
) -> Response:
    """The new-segment page, or a segment's page with its edit form
    (``version``: the one the posted form was built from, kept through a
    preview so the stale-form check still sees it)."""
    rule = segment.rule if segment else None
    builder = sent.builder if sent else Builder.from_rule(rule)
    json_text = sent.json_text if sent else rule_text(rule)
    found = {**(sent.errors if sent else {}), **(errors or {})}
    shown: dict[str, Any] = {"count": None, "sample": []}
    if sent is not None and with_preview:
        shown = await preview_values(ctx, sent)
        found = {**shown.pop("errors"), **found}
    values = typed or {
        "name": segment.name if segment else "",
        "description": segment.description if segment else "",
        "kind": segment.kind if segment else SegmentKind.DYNAMIC.value,
    }
    history = (await service.size_history(ctx.scope, [segment.id]))[segment.id] if segment else []
    last = (
        (await service.last_refreshes(ctx.scope, [segment.id])).get(segment.id) if segment else None
    )
    return ctx.render(
        "segment.html",
        status=status,
        title=N_("Segment") if segment else N_("New segment"),
        segment=segment,
        values=values,
        version=version if version is not None else (_version(segment) if segment else ""),
        history=history,
        last=last,
        can_manage=ctx.can(Scope.MANAGE),
        can_write=ctx.can(Scope.WRITE),
        editable=segment is None or segment.kind == SegmentKind.DYNAMIC.value,
        **rule_editor(
            builder=builder,
            json_text=json_text,
            preview_url=ctx.url("segment_preview"),
            errors=found,
            source=sent.source if sent else "builder",
            **shown,
        ),
    )


@page("/segments/new", "segment_new", permission=Scope.MANAGE)
async def segment_new(ctx: Ctx) -> Response:
    return await _form(ctx, None)


@page("/segments/new", "segment_create", permission=Scope.MANAGE, methods=("POST",))
async def segment_create(ctx: Ctx) -> Response:
    """Like ``createSegment`` (manage scope), then its refresh job."""
    form = await ctx.form()
    sent = submitted(form)
    typed = {k: str(form.get(k, "")) for k in ("name", "description", "kind")}
    kind = SegmentKind.STATIC if typed["kind"] == "static" else SegmentKind.DYNAMIC
    if sent.errors:
        return await _form(ctx, None, 422, sent=sent, typed=typed)
    try:
        segment = await ctx.audited(
            "createSegment",
            {"name": typed["name"], "kind": kind.value, "rule": sent.rule},
            lambda: service.create_segment(
                ctx.scope, typed["name"], kind, rule=sent.rule, description=typed["description"]
            ),
        )
    except DomainError as error:
        return await _form(ctx, None, 422, sent=sent, typed=typed, errors=_split(error, sent))
    if service.needs_refresh(segment):
        await enqueue_refresh(ctx.scope, segment.id, RefreshTrigger.CREATED)
    return ctx.redirect(ctx.url("segment", segment_id=segment.id), ctx.gettext("Segment created."))


def _split(error: DomainError, sent: Submitted) -> dict[str, list[str]]:
    """A refusal's messages: those about the rule beside the builder's
    inputs or the JSON editor, the others beside the form's fields."""
    problems = error.errors if isinstance(error, DomainErrors) else [error]
    about_rule = [one for one in problems if (one.field or [""])[0] == "rule"]
    others = [one for one in problems if one not in about_rule]
    found = errors_of(DomainErrors(others)) if others else {}
    if about_rule:
        found.update(sent.problems(DomainErrors(about_rule)))
    return found


@page("/segments/preview", "segment_preview", permission=Scope.READ, methods=("POST",))
async def segment_preview(ctx: Ctx) -> Response:
    """Like ``previewSegment`` (read scope). htmx gets the count and sample
    as the rule changes; without JavaScript the Preview button (and the
    builder's add/remove buttons) come back to the whole page."""
    form = await ctx.form()
    sent = submitted(form)
    if ctx.htmx:
        return await preview_box(ctx, sent, ctx.url("segment_preview"))
    raw = str(form.get("segment", ""))
    segment = await ctx.scope.get(Segment, int(raw)) if raw.isdigit() else None
    typed = {k: str(form.get(k, "")) for k in ("name", "description", "kind")}
    return await _form(
        ctx,
        segment,
        sent=sent,
        typed=typed,
        with_preview=True,
        version=await ctx.posted_version(),
    )


@page("/segments/{segment_id:int}", "segment", permission=Scope.READ)
async def segment_page(ctx: Ctx) -> Response:
    segment = await ctx.row(Segment, "segment_id")
    if segment is None:
        return ctx.not_found()
    return await _form(ctx, segment)


@page("/segments/{segment_id:int}", "segment_save", permission=Scope.MANAGE, methods=("POST",))
async def segment_save(ctx: Ctx) -> Response:
    """Like ``updateSegment`` (manage scope); a new rule is then refreshed."""
    segment = await ctx.row(Segment, "segment_id")
    if segment is None:
        return ctx.not_found()
    form = await ctx.form()
    sent = submitted(form)
    typed = {"name": str(form.get("name", "")), "description": str(form.get("description", ""))}
    typed["kind"] = segment.kind
    if await ctx.stale(_version(segment)):
        return await _form(ctx, segment, 409, errors=ctx.stale_errors())
    if sent.errors:
        return await _form(ctx, segment, 422, sent=sent, typed=typed)
    changes: dict[str, Any] = {"name": typed["name"], "description": typed["description"]}
    if segment.kind == SegmentKind.DYNAMIC.value:
        changes["rule"] = sent.rule
    try:
        await ctx.audited(
            "updateSegment",
            {"id": segment.id, **changes},
            lambda: service.update_segment(ctx.scope, segment.id, changes),
        )
    except DomainError as error:
        return await _form(ctx, segment, 422, sent=sent, typed=typed, errors=_split(error, sent))
    if "rule" in changes:
        await enqueue_refresh(ctx.scope, segment.id, RefreshTrigger.MANUAL)
    return ctx.redirect(ctx.url("segment", segment_id=segment.id), ctx.gettext("Saved."))


@page(
    "/segments/{segment_id:int}/refresh",
    "segment_refresh",
    permission=Scope.WRITE,
    methods=("POST",),
)
async def segment_refresh(ctx: Ctx) -> Response:
    """Like ``refreshSegment`` (write scope)."""
    segment = await ctx.row(Segment, "segment_id")
    if segment is None:
        return ctx.not_found()

    try:
        await ctx.audited(
            "refreshSegment", {"id": segment.id}, lambda: refresh_later(ctx.scope, segment.id)
        )
    except DomainError as error:
        return await _form(ctx, segment, 422, errors=errors_of(error))
    return ctx.redirect(ctx.url("segment", segment_id=segment.id), ctx.gettext("Refresh started."))


@page("/segments/{segment_id:int}/delete", "segment_delete_confirm", permission=Scope.MANAGE)
async def segment_delete_confirm(ctx: Ctx) -> Response:
    segment = await ctx.row(Segment, "segment_id")
    if segment is None:
        return ctx.not_found()
    return _confirm(ctx, segment)


def _confirm(
    ctx: Ctx, segment: Segment, errors: dict[str, list[str]] | None = None, status: int = 200
) -> Response:
    return ctx.confirm_delete(
        N_("Delete segment"),
        segment.name,
        action=ctx.url("segment_delete", segment_id=segment.id),
        back=ctx.url("segment", segment_id=segment.id),
        errors=errors,
        status=status,
    )


@page(
    "/segments/{segment_id:int}/delete",
    "segment_delete",
    permission=Scope.MANAGE,
    methods=("POST",),
)
async def segment_delete(ctx: Ctx) -> Response:
    """Like ``deleteSegment`` (manage scope)."""
    segment = await ctx.row(Segment, "segment_id")
    if segment is None:
        return ctx.not_found()
    try:
        await ctx.audited(
            "deleteSegment",
            {"id": segment.id},
            lambda: service.delete_segment(ctx.scope, segment.id),
        )
    except DomainError as error:
        return _confirm(ctx, segment, errors_of(error), 422)
    return ctx.redirect(ctx.url("segments"), ctx.gettext("Segment deleted."))


@page("/segments/{segment_id:int}/members.csv", "segment_export", permission=Scope.READ)
async def segment_export(ctx: Ctx) -> Response:
    """The segment's stored members as CSV, streamed a page at a time (memory
    stays bounded whatever the size). Read scope, like ``Segment.members``
    in GraphQL; each export is written to the audit log."""
    segment = await ctx.row(Segment, "segment_id")
    if segment is None:
        return ctx.not_found()
    scope = ctx.scope
    # The entry names the segment rather than listing every member, and says
    # whether phones and emails went out unmasked (the pii permission).
    unmasked = ctx.can(Scope.PII)
    await ctx.audit("exportSegmentMembers", "ok", {"id": segment.id, "unmasked": unmasked})

    def personal(kind: str, value: str | None) -> str:
        return (value if unmasked else pii.mask(kind, value)) or ""

    async def rows() -> AsyncIterator[str]:
        buffer = io.StringIO()
        writer = csv.writer(buffer)
        writer.writerow(EXPORT_COLUMNS)
        last = 0
        while True:
            page_ = list(
                await service.members_query(scope, segment.id)
                .filter(id__gt=last)
                .order_by("id")
                .limit(EXPORT_PAGE)
            )
            if not page_:
                break
            for member in page_:
                writer.writerow(
                    (
                        member.id,
                        member.card_number or "",
                        member.name,
                        personal("phone", member.phone),
                        personal("email", member.email),
                        member.external_id or "",
                        member.joined_at.isoformat(),
                    )
                )
            last = page_[-1].id
            yield buffer.getvalue()
            buffer.seek(0)
            buffer.truncate()
        if buffer.getvalue():
            yield buffer.getvalue()

    return StreamingResponse(
        rows(),
        media_type="text/csv; charset=utf-8",
        headers={"content-disposition": f'attachment; filename="segment-{segment.id}.csv"'},
    )


async def _upload_text(upload: UploadFile) -> str:
    """The file as text: UTF-8 (with or without BOM), else GB18030, what
    Excel on a Chinese Windows saves. Larger than a full list can be, it is
    refused unread."""
    raw = await upload.read(MAX_UPLOAD + 1)
    if len(raw) > MAX_UPLOAD:
        raise DomainError(
            "TOO_MANY", f"a list file is at most {MAX_UPLOAD // 1_000_000} MB", ["csv"]
        )
    try:
        return raw.decode("utf-8")
    except UnicodeDecodeError:
        return raw.decode("gb18030", errors="replace")


@page(
    "/segments/{segment_id:int}/import",
    "segment_import",
    permission=Scope.WRITE,
    methods=("POST",),
)
async def segment_import(ctx: Ctx) -> Response:
    """Like ``importSegmentMembers`` (write scope): an uploaded CSV of card
    numbers, phones, emails or external ids becomes (or is added to) the
    static segment's list; rows matching no member are listed."""
    segment = await ctx.row(Segment, "segment_id")
    if segment is None:
        return ctx.not_found()
    form = await ctx.form()
    upload = form.get("file")
    add = form.get("mode") == "add"

    async def work() -> imports.ImportResult:
        text = await _upload_text(upload) if isinstance(upload, UploadFile) else ""
        return await imports.import_list(ctx.scope, segment.id, text, add=add)

    try:
        result = await ctx.audited(
            "importSegmentMembers",
            {"segmentId": segment.id, "mode": "add" if add else "replace"},
            work,
        )
    except DomainError as error:
        found = errors_of(error)
        found["file"] = found.pop("csv", []) + found.pop("segmentId", [])
        return await _form(ctx, segment, 422, errors=found)
    ctx.flash(
        ctx.gettext("List uploaded: {matched} of {rows} rows matched a member.").format(
            matched=result.matched, rows=result.rows
        )
    )
    for row in result.rejected[:20]:
        ctx.flash(f"{row.line}: {row.value} — {row.reason}", "warning")
    return ctx.redirect(ctx.url("segment", segment_id=segment.id))
