"""A member's rights over their data (docs/privacy.md): exports, erasure,
legal holds and the brand's retention settings. Everything here needs the
admin scope, except a member's export of their own data with their token."""

from __future__ import annotations

from datetime import datetime

import strawberry
from strawberry.types import Info

from tessera.auth.member_tokens import MemberPrincipal
from tessera.auth.scopes import Scope
from tessera.privacy import erasure, exports
from tessera.privacy import models as privacy_models
from tessera.privacy import settings as retention_settings
from tessera.schema.errors import UserError
from tessera.schema.ids import encode_id, require_id
from tessera.schema.members.types import Member
from tessera.schema.permissions import CanAdmin, IsMember, Permission

ExportStatus = strawberry.enum(
    exports.ExportStatus,
    name="MemberExportStatus",
    description="Where an export of a member's data stands.",
)
ErasureReason = strawberry.enum(
    erasure.ErasureReason,
    name="ErasureReason",
    description="Why a member's data is erased: a code, so the audit log holds no free text.",
)


class CanAdminOrIsMember(Permission):
    message = "this needs an API key with the admin scope, or the member's own token"

    def has_permission(self, source: object, info: Info, **kwargs: object) -> bool:
        return isinstance(info.context.principal, MemberPrincipal) or info.context.has(Scope.ADMIN)


@strawberry.type(description="An export of one member's data (docs/privacy.md, Export).")
class MemberExport:
    id: strawberry.ID = strawberry.field(description="Opaque id.")
    member_id: strawberry.ID = strawberry.field(description="The member.")
    status: ExportStatus = strawberry.field(description="Where it stands.")  # type: ignore[valid-type]
    requested_at: datetime = strawberry.field(description="When it was asked for.")
    ready_at: datetime | None = strawberry.field(description="When the document was built.")
    expires_at: datetime | None = strawberry.field(description="The link works until then.")
    downloaded_at: datetime | None = strawberry.field(description="When the link was used.")
    download_path: str | None = strawberry.field(
        description="While READY: the path (on this API's origin) that downloads the JSON "
        "document once; a second use or one after `expiresAt` answers 410 Gone. Treat it as "
        "a secret: whoever has it gets the file."
    )

    @classmethod
    def from_model(cls, row: privacy_models.MemberExport) -> MemberExport:
        return cls(
            id=strawberry.ID(encode_id("MemberExport", row.id)),
            member_id=strawberry.ID(encode_id("Member", row.member_id)),
            status=exports.ExportStatus(row.status),
            requested_at=row.requested_at,
            ready_at=row.ready_at,
            expires_at=row.expires_at,
            downloaded_at=row.downloaded_at,
            download_path=exports.download_path(row),
        )


@strawberry.type(description="A legal hold: the member's data must be kept, not erased.")
class LegalHold:
    member_id: strawberry.ID = strawberry.field(description="The member.")
    reason: str = strawberry.field(description="Why (a case, an authority's request).")
    set_by: str = strawberry.field(description="Who set it.")
    set_at: datetime = strawberry.field(description="When.")

    @classmethod
    def from_model(cls, row: privacy_models.LegalHold) -> LegalHold:
        return cls(
            member_id=strawberry.ID(encode_id("Member", row.member_id)),
            reason=row.reason,
            set_by=row.set_by,
            set_at=row.set_at,
        )


@strawberry.type(description="A brand's retention periods; null keeps for ever.")
class PrivacySettings:
    behaviour_event_days: int | None = strawberry.field(
        description="Behaviour events older than this many days are deleted."
    )
    webhook_delivery_days: int | None = strawberry.field(
        description="Finished webhook deliveries older than this are deleted."
    )
    message_log_days: int | None = strawberry.field(
        description="Channels' message logs older than this are deleted (when channels exist)."
    )
    inactive_member_days: int | None = strawberry.field(
        description="Members with no order, event or ledger entry for this many days are "
        "anonymised (reason RETENTION), except under a legal hold or holding stored value."
    )
    export_link_hours: int = strawberry.field(description="How long an export's link works.")

    @classmethod
    def from_model(cls, row: privacy_models.PrivacySettings) -> PrivacySettings:
        return cls(
            behaviour_event_days=row.behaviour_event_days,
            webhook_delivery_days=row.webhook_delivery_days,
            message_log_days=row.message_log_days,
            inactive_member_days=row.inactive_member_days,
            export_link_hours=row.export_link_hours,
        )


@strawberry.input(description="The member whose data to export.")
class ExportMemberDataInput:
    member_id: strawberry.ID = strawberry.field(description="The member.")


@strawberry.type(description="Result of asking for an export.")
class MemberExportPayload:
    export: MemberExport | None = strawberry.field(
        default=None, description="The export, PENDING until its job has built it."
    )
    errors: list[UserError] = strawberry.field(description="Why nothing was asked for.")


@strawberry.input(description="The member whose personal data to erase, and why.")
class EraseMemberInput:
    member_id: strawberry.ID = strawberry.field(description="The member.")
    reason: ErasureReason = strawberry.field(description="Why.")  # type: ignore[valid-type]


@strawberry.type(description="Result of an erasure.")
class EraseMemberPayload:
    member: Member | None = strawberry.field(
        default=None, description="The member as now stored: status ERASED, no personal field."
    )
    errors: list[UserError] = strawberry.field(description="Why nothing was erased.")


@strawberry.input(description="Set or clear a member's legal hold.")
class SetLegalHoldInput:
    member_id: strawberry.ID = strawberry.field(description="The member.")
    hold: bool = strawberry.field(description="true sets (or replaces) the hold, false clears it.")
    reason: str = strawberry.field(default="", description="Why; required to set a hold.")


@strawberry.type(description="Result of setting or clearing a legal hold.")
class LegalHoldPayload:
    legal_hold: LegalHold | None = strawberry.field(
        default=None, description="The hold now in force; null when cleared."
    )
    errors: list[UserError] = strawberry.field(description="Why nothing changed.")


@strawberry.input(
    description="Retention periods to change; omitted ones stay, null keeps for ever."
)
class UpdatePrivacySettingsInput:
    behaviour_event_days: int | None = strawberry.field(
        default=strawberry.UNSET, description="1-36500 days."
    )
    webhook_delivery_days: int | None = strawberry.field(
        default=strawberry.UNSET, description="1-36500 days."
    )
    message_log_days: int | None = strawberry.field(
        default=strawberry.UNSET, description="1-36500 days."
    )
    inactive_member_days: int | None = strawberry.field(
        default=strawberry.UNSET, description="30-36500 days."
    )
    export_link_hours: int | None = strawberry.field(
        default=strawberry.UNSET, description="1-720 hours."
    )


@strawberry.type(description="Result of changing the retention settings.")
class PrivacySettingsPayload:
    settings: PrivacySettings | None = strawberry.field(
        default=None, description="The settings as now stored."
    )
    errors: list[UserError] = strawberry.field(description="Why nothing changed.")


def _own_member(info: Info) -> int | None:
    principal = info.context.principal
    return principal.member_id if isinstance(principal, MemberPrincipal) else None


@strawberry.type
class PrivacyQuery:
    @strawberry.field(
        description="An export of a member's data: its status and, when ready, its link. "
        "Needs the admin scope, or the member's own token (for their own exports).",
        permission_classes=[CanAdminOrIsMember],
    )
    async def member_export(self, info: Info, id: strawberry.ID) -> MemberExport | None:
        pk = require_id(id, "MemberExport", "id")
        row = await info.context.scope.query(privacy_models.MemberExport).get_or_none(id=pk)
        own = _own_member(info)
        if row is None or (own is not None and row.member_id != own):
            return None
        return MemberExport.from_model(row)

    @strawberry.field(
        description="The member's legal hold, if any. Needs the admin scope.",
        permission_classes=[CanAdmin],
    )
    async def legal_hold(self, info: Info, member_id: strawberry.ID) -> LegalHold | None:
        row = await erasure.legal_hold_of(
            info.context.scope, require_id(member_id, "Member", "memberId")
        )
        return LegalHold.from_model(row) if row is not None else None

    @strawberry.field(
        description="The brand's retention periods. Needs the admin scope.",
        permission_classes=[CanAdmin],
    )
    async def privacy_settings(self, info: Info) -> PrivacySettings:
        return PrivacySettings.from_model(await retention_settings.get_settings(info.context.scope))


@strawberry.type
class PrivacyMutation:
    @strawberry.mutation(
        description="Build a JSON document of every fact held about a member (a job); "
        "`memberExport` gives its status and, once ready, a one-time download link. "
        "Needs the admin scope.",
        permission_classes=[CanAdmin],
    )
    async def export_member_data(
        self, info: Info, input: ExportMemberDataInput
    ) -> MemberExportPayload:
        member_id = require_id(input.member_id, "Member", "memberId")
        row = await exports.request_export(info.context.scope, member_id)
        return MemberExportPayload(export=MemberExport.from_model(row), errors=[])

    @strawberry.mutation(
        description="`exportMemberData` for the member whose token makes the request.",
        permission_classes=[IsMember],
    )
    async def export_my_data(self, info: Info) -> MemberExportPayload:
        principal: MemberPrincipal = info.context.principal
        row = await exports.request_export(principal.scope, principal.member_id)
        return MemberExportPayload(export=MemberExport.from_model(row), errors=[])

    @strawberry.mutation(
        description="Erase a member's personal data, keeping orders, ledgers and statistics "
        "under the bare member id (docs/privacy.md, Erasure). Refused for a member erased "
        "already (ALREADY_ERASED) or under a legal hold (LEGAL_HOLD). Sends `member.erased`. "
        "Needs the admin scope.",
        permission_classes=[CanAdmin],
    )
    async def erase_member(self, info: Info, input: EraseMemberInput) -> EraseMemberPayload:
        member = await erasure.erase_member(
            info.context.scope,
            require_id(input.member_id, "Member", "memberId"),
            erasure.ErasureReason(input.reason),
        )
        return EraseMemberPayload(member=Member.from_model(member), errors=[])

    @strawberry.mutation(
        description="Set (with a reason) or clear a member's legal hold, which blocks their "
        "erasure. Needs the admin scope.",
        permission_classes=[CanAdmin],
    )
    async def set_legal_hold(self, info: Info, input: SetLegalHoldInput) -> LegalHoldPayload:
        row = await erasure.set_legal_hold(
            info.context.scope,
            require_id(input.member_id, "Member", "memberId"),
            input.hold,
            input.reason,
        )
        return LegalHoldPayload(
            legal_hold=LegalHold.from_model(row) if row is not None else None, errors=[]
        )

    @strawberry.mutation(
        description="Change the brand's retention periods. Needs the admin scope.",
        permission_classes=[CanAdmin],
    )
    async def update_privacy_settings(
        self, info: Info, input: UpdatePrivacySettingsInput
    ) -> PrivacySettingsPayload:
        changes = {
            name: getattr(input, name)
            for name in retention_settings.LIMITS
            if getattr(input, name) is not strawberry.UNSET
        }
        row = await retention_settings.update_settings(info.context.scope, changes)
        return PrivacySettingsPayload(settings=PrivacySettings.from_model(row), errors=[])
