"""Exports of a member's data: asked for, built by a job, downloaded once
through a signed, expiring link (docs/privacy.md, "Export")."""

from __future__ import annotations

import logging
from datetime import UTC, datetime, timedelta
from enum import StrEnum
from typing import Any

from itsdangerous import BadSignature, URLSafeSerializer

from tessera import runtime
from tessera.crypto import decrypt_json, encrypt_json
from tessera.errors import DomainError
from tessera.members.profile import MemberStatus
from tessera.members.service import require_member
from tessera.privacy import document
from tessera.privacy.models import MemberExport
from tessera.privacy.settings import get_settings
from tessera.scope import BrandScope
from tessera.tenancy.models import Brand
from tessera.uow import unit_of_work

log = logging.getLogger("tessera.privacy")

EXPORT_JOB = "privacy_export"
DOWNLOAD_PATH = "/privacy/exports/"
_SALT = "tessera member export"


class ExportStatus(StrEnum):
    PENDING = "pending"  # the job has not built it yet
    READY = "ready"  # the link works, once, until expires_at
    DOWNLOADED = "downloaded"  # the link was used; the document is gone
    EXPIRED = "expired"  # not downloaded in time; the document is gone
    FAILED = "failed"  # the job could not build it; ask again


def _serializer() -> URLSafeSerializer:
    return URLSafeSerializer(runtime.current().settings.secret(), salt=_SALT)


def download_token(export: MemberExport) -> str:
    """The signed token of an export's link: its brand, its id and when it
    expires, so a forged or altered link is refused before any lookup."""
    assert export.expires_at is not None
    return str(
        _serializer().dumps([export.brand_id, export.id, int(export.expires_at.timestamp())])
    )


def download_path(export: MemberExport) -> str | None:
    """The link's path while it works (relative to the API's origin)."""
    if export.status != ExportStatus.READY.value or export.expires_at is None:
        return None
    if export.expires_at <= datetime.now(UTC):
        return None
    return DOWNLOAD_PATH + download_token(export)


async def request_export(scope: BrandScope, member_id: int) -> MemberExport:
    """Ask for the member's data; a job builds the document after the commit."""
    member = await require_member(scope, member_id, "memberId")
    if member.status == MemberStatus.ERASED.value:
        raise DomainError("MEMBER_ERASED", "the member's data was erased", ["memberId"])
    async with unit_of_work(scope) as uow:
        export = await scope.create(
            MemberExport,
            member_id=member.id,
            requested_by=str(scope.actor),
            requested_at=datetime.now(UTC),
        )
        uow.follow_up(EXPORT_JOB, scope.brand_id, export.id)
    return export


async def require_export(
    scope: BrandScope, export_id: int, member_id: int | None = None
) -> MemberExport:
    """The brand's export (of ``member_id`` when given: a member sees only their own)."""
    query = scope.query(MemberExport).filter(id=export_id)
    if member_id is not None:
        query = query.filter(member_id=member_id)
    export = await query.first()
    if export is None:
        raise DomainError("NOT_FOUND", "no such export", ["id"])
    return export


async def build_export(scope: BrandScope, export_id: int) -> None:
    """Build a pending export's document and open its link."""
    export = await scope.query(MemberExport).get_or_none(id=export_id)
    if export is None or export.status != ExportStatus.PENDING.value:
        return  # deleted with its member, or built by an earlier try
    try:
        data = await document.build(scope, export.member_id)
        sealed = encrypt_json(runtime.current().settings.secret(), data)
    except Exception as exc:
        log.exception("export %s of brand %s failed", export.id, scope.brand_id)
        await (
            scope.query(MemberExport)
            .filter(id=export.id)
            .update(status=ExportStatus.FAILED.value, error=type(exc).__name__)
        )
        return
    hours = (await get_settings(scope)).export_link_hours
    now = datetime.now(UTC)
    await (
        scope.query(MemberExport)
        .filter(id=export.id, status=ExportStatus.PENDING.value)
        .update(
            status=ExportStatus.READY.value,
            document=sealed,
            ready_at=now,
            expires_at=now + timedelta(hours=hours),
        )
    )


async def export_job(ctx: dict[str, Any], brand_id: int, export_id: int) -> None:
    brand = await Brand.get_or_none(id=brand_id)
    if brand is not None:
        await build_export(BrandScope(brand), export_id)


class Gone(Exception):
    """The link was used already or has expired (HTTP 410)."""


class Unknown(Exception):
    """The link is not one Tessera signed (HTTP 404)."""


async def download(token: str, now: datetime | None = None) -> dict[str, Any]:
    """The document behind a link, once: the first call empties it."""
    try:
        brand_id, export_id, expires = _serializer().loads(token)
    except (BadSignature, ValueError, TypeError):
        raise Unknown from None
    now = now or datetime.now(UTC)
    brand = await Brand.get_or_none(id=brand_id)
    if brand is None:
        raise Gone
    scope = BrandScope(brand)
    export = await scope.query(MemberExport).get_or_none(id=export_id)
    if export is None or export.status != ExportStatus.READY.value:
        raise Gone
    if expires <= now.timestamp() or export.expires_at is None or export.expires_at <= now:
        await _expire(scope, export.id)
        raise Gone
    # The conditional update lets exactly one of two simultaneous requests through.
    taken = await (
        scope.query(MemberExport)
        .filter(id=export.id, status=ExportStatus.READY.value)
        .update(status=ExportStatus.DOWNLOADED.value, downloaded_at=now, document="")
    )
    if taken != 1:
        raise Gone
    return decrypt_json(runtime.current().settings.secret(), export.document)


async def _expire(scope: BrandScope, export_id: int) -> None:
    await (
        scope.query(MemberExport)
        .filter(id=export_id, status=ExportStatus.READY.value)
        .update(status=ExportStatus.EXPIRED.value, document="")
    )


async def expire_exports(scope: BrandScope, now: datetime) -> int:
    """Empty the brand's exports whose link expired unused."""
    expired: int = await (
        scope.query(MemberExport)
        .filter(status=ExportStatus.READY.value, expires_at__lte=now)
        .update(status=ExportStatus.EXPIRED.value, document="")
    )
    return expired
