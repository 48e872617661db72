"""Erasure that keeps the books (docs/privacy.md, "Erasure" and "Legal hold").

A member's personal data goes (profile fields cleared, identities deleted,
behaviour, tags and segment memberships deleted, personal values scrubbed out
of the audit log, the webhook delivery log and the outbox) while what the
brand must keep stays under the bare member id: orders and their lines,
refunds, ledger entries, lots, accounts, coupons, tiers and statistics.
Balances, reports and ``tessera ledger verify`` read the same afterwards.
"""

from __future__ import annotations

import contextlib
import json
from collections.abc import Iterable
from datetime import UTC, datetime
from enum import StrEnum
from typing import Any

import phonenumbers
from tortoise.expressions import Q, RawSQL

from tessera.audit import service as audit
from tessera.audit.models import AuditLogEntry
from tessera.behaviour.models import BehaviourEvent
from tessera.campaigns.models import CampaignRecipient
from tessera.channels.models import ChannelConsent, DoNotContact, Message
from tessera.errors import DomainError
from tessera.members.models import DuplicateCandidate, Member, MemberIdentity, MemberMerge
from tessera.members.profile import Gender, MemberStatus
from tessera.members.service import require_member
from tessera.models_base import BrandOwned
from tessera.outbox.models import OutboxEntry
from tessera.persons import linking as persons
from tessera.privacy import erased
from tessera.privacy.identities import identity_values
from tessera.privacy.models import LegalHold, MemberExport
from tessera.reports.api import local_day
from tessera.reports.rollup import mark_dirty, mark_member_dirty, rebuild_join_day
from tessera.scope import BrandScope
from tessera.segments.models import MemberLifecycle, SegmentMembership
from tessera.slots.models import MemberCluster, SlotEvent
from tessera.tags.models import TagAssignment
from tessera.uow import unit_of_work
from tessera.webhooks.models import WebhookDelivery

ERASED_TEXT = "[erased]"
# A value shorter than this is not searched for in logs: a short name would
# blank every log entry that holds those letters. Two Chinese characters are
# a whole name; four Latin ones are rarely part of an unrelated word. (A row
# found by a longer value has its personal keys blanked anyway.)
MIN_NEEDLE = 2
MIN_ASCII_NEEDLE = 4


def _searchable(value: str | None) -> bool:
    if not value:
        return False
    return len(value) >= (MIN_ASCII_NEEDLE if value.isascii() else MIN_NEEDLE)


MAX_REASON = 500


class ErasureReason(StrEnum):
    """Why a member was erased: a code, never free text, so the audit entry
    holds no personal data."""

    MEMBER_REQUEST = "member_request"
    CONSENT_WITHDRAWN = "consent_withdrawn"
    LEGAL_OBLIGATION = "legal_obligation"
    RETENTION = "retention"
    OTHER = "other"


# The profile as an erased member keeps it: every personal field emptied.
# ``external_id`` is the brand's own id of the person (a shop account), which
# other systems map back to them, so it is personal and goes too; so does the
# card number, printed on a card the person holds.
_ERASED_PROFILE: dict[str, Any] = {
    "name": "",
    "gender": Gender.UNKNOWN.value,
    "birthday": None,
    "phone_sealed": None,
    "email_sealed": None,
    "external_id": None,
    "card_number": None,
    "province": "",
    "city": "",
    "education": "",
    "occupation": "",
    "income_range": "",
    "interests": [],
    "join_source": "",
    "attributes": {},
    "status": MemberStatus.ERASED.value,
}
# Rows about the person with no bookkeeping role: deleted with their data.
_DELETED_WITH_MEMBER: tuple[type[BrandOwned], ...] = (
    MemberIdentity,
    BehaviourEvent,
    TagAssignment,
    SegmentMembership,
    MemberLifecycle,
    MemberCluster,
    Message,
    CampaignRecipient,
    ChannelConsent,
    DoNotContact,
    MemberExport,
    LegalHold,
)
# Logs whose JSON may quote a personal value, and the column that holds it.
_LOGS: tuple[tuple[type[BrandOwned], str], ...] = (
    (AuditLogEntry, "details"),
    (WebhookDelivery, "payload"),
    (OutboxEntry, "payload"),
)


async def legal_hold_of(scope: BrandScope, member_id: int) -> LegalHold | None:
    return await scope.query(LegalHold).get_or_none(member_id=member_id)


async def set_legal_hold(
    scope: BrandScope, member_id: int, hold: bool, reason: str = ""
) -> LegalHold | None:
    """Set (with a reason) or clear the member's legal hold; returns the hold
    now in force. Setting it again replaces the reason."""
    member = await require_member(scope, member_id, "memberId")
    if member.status == MemberStatus.ERASED.value:
        raise DomainError("MEMBER_ERASED", "the member's data was erased already", ["memberId"])
    reason = reason.strip()
    if hold and not reason:
        raise DomainError("REQUIRED", "say why the member's data must be kept", ["reason"])
    if len(reason) > MAX_REASON:
        raise DomainError("TOO_LONG", f"at most {MAX_REASON} characters", ["reason"])
    async with unit_of_work(scope):
        await scope.query(LegalHold).filter(member_id=member.id).delete()
        if not hold:
            return None
        return await scope.create(
            LegalHold,
            member_id=member.id,
            reason=reason,
            set_by=str(scope.actor),
            set_at=datetime.now(UTC),
        )


async def erase_member(scope: BrandScope, member_id: int, reason: ErasureReason) -> Member:
    """Erase the member's personal data in one transaction; see the module's
    docstring. Refused (nothing changed) for a member erased already or under
    a legal hold."""
    member = await require_member(scope, member_id, "memberId")
    if member.status == MemberStatus.ERASED.value:
        raise DomainError("ALREADY_ERASED", "the member's data was erased already", ["memberId"])
    if await legal_hold_of(scope, member.id) is not None:
        raise DomainError(
            "LEGAL_HOLD",
            "the member is under a legal hold: their data must be kept until the hold is cleared",
            ["memberId"],
        )
    identities = await identity_values(scope, member.id)
    needles = personal_values(member, (i.value for i in identities))
    async with unit_of_work(scope) as uow:
        # Locks the member: a concurrent erasure or profile change waits, then
        # finds it erased.
        locked = await (
            scope.query(Member)
            .select_for_update()
            .filter(id=member.id)
            .exclude(status=MemberStatus.ERASED.value)
            .first()
        )
        if locked is None:
            raise DomainError(
                "ALREADY_ERASED", "the member's data was erased already", ["memberId"]
            )
        await erased.remember(scope, [(i.kind, i.value) for i in identities], uow.connection)
        if member.card_number is not None:
            # Its orders no longer count as a member's in the sales rollup.
            await mark_member_dirty(scope, uow.connection, member.id)
        # The join source goes: the member growth report's join day.
        await mark_dirty(scope, uow.connection, [member.joined_at])
        for model in _DELETED_WITH_MEMBER:
            await scope.query(model).filter(member_id=member.id).delete()
        await (
            scope.query(Member)
            .filter(id=member.id)
            .update(**_ERASED_PROFILE, updated_at=datetime.now(UTC))
        )
        # The join-day rollup counts members by join source: summed again
        # now, not at the next rollup tick.
        await rebuild_join_day(
            scope, uow.connection, local_day(member.joined_at, scope.brand.timezone)
        )
        for model, column in _LOGS:
            await _scrub(scope, model, column, needles)
        # Merge records quote both members' profile values (kept for undo,
        # which an erasure ends); pairs proposed for review name a person
        # who is gone.
        await (
            scope.query(MemberMerge)
            .filter(Q(survivor_id=member.id) | Q(merged_id=member.id))
            .update(conflicts=[], previous={})
        )
        # Impressions and clicks stay counted for the A/B results, of no one.
        await scope.query(SlotEvent).filter(member_id=member.id).update(member_id=None)
        await (
            scope.query(DuplicateCandidate)
            .filter(Q(member_id=member.id) | Q(other_id=member.id))
            .delete()
        )
        await persons.forget_member(scope, member.id)
        uow.emit("member.erased", member_id=member.id, reason=reason.value)
        await audit.record(
            scope, "member.erased", "ok", {"member_id": member.id, "reason": reason.value}
        )
    await member.refresh_from_db()
    return member


def personal_values(member: Member, identity_values: Iterable[str]) -> set[str]:
    """The member's personal values to look for in logs."""
    values: set[str | None] = {
        member.name,
        member.phone,
        member.email,
        member.external_id,
        member.card_number,
        *identity_values,
    }
    for phone in [member.phone, *(v for v in values if v and v.startswith("+"))]:
        # A phone as a shop's form may have sent it: national digits only.
        with contextlib.suppress(phonenumbers.NumberParseException):
            values.add(str(phonenumbers.parse(phone or "").national_number))
    return {v for v in values if v and _searchable(v)}


def _forms(needle: str) -> set[str]:
    """How a value may appear in a stored JSON text: as it is, and with
    non-ASCII characters escaped (``json.dumps``'s default)."""
    return {needle, json.dumps(needle)[1:-1]}


async def _scrub(scope: BrandScope, model: type[BrandOwned], column: str, needles: set[str]) -> int:
    """Scrub the JSON column of the brand's rows about the member (see
    :func:`rows_about`): the values of their personal keys are blanked
    whatever they are (an earlier name, a birthday), and every needle found
    becomes ``[erased]``."""
    rows, needles = await rows_about(scope, model, column, needles)
    for row in rows:
        setattr(row, column, _scrubbed(getattr(row, column), needles))
    await scope.update_many(model, rows, [column])
    return len(rows)


async def rows_about(
    scope: BrandScope,
    model: type[BrandOwned],
    column: str,
    needles: set[str],
    patterns: Iterable[str] = (),
) -> tuple[list[Any], set[str]]:
    """The brand's rows whose JSON column quotes one of ``needles`` (the
    member's values) or holds one of ``patterns``, and the needles grown on
    the way: identifying values found in such a row (an earlier phone, the
    name before a change) are looked for in turn, so a profile changed before
    the erasure leaves no trace either."""
    needles = set(needles)
    found: dict[Any, Any] = {}
    extra = list(patterns)
    for _ in range(_ROUNDS):
        rows = [
            row
            for row in await rows_quoting(scope, model, column, needles, extra)
            if row.pk not in found
        ]
        if not rows:
            break
        for row in rows:
            found[row.pk] = row
            needles |= {v for v in _identifying(getattr(row, column)) if _searchable(v)}
    return sorted(found.values(), key=lambda row: row.pk), needles


async def rows_quoting(
    scope: BrandScope,
    model: type[BrandOwned],
    column: str,
    needles: set[str],
    patterns: Iterable[str] = (),
) -> list[Any]:
    """The brand's rows whose JSON column, as text, holds a needle (in any of
    its stored forms) or a pattern."""
    texts = {form for needle in needles for form in _forms(needle)} | set(patterns)
    if not texts:
        return []
    condition = Q()
    for text in texts:
        condition |= Q(scrubbed_text__contains=text)
    return list(
        await scope.query(model)
        .annotate(scrubbed_text=RawSQL(f'CAST("{column}" AS TEXT)'))
        .filter(condition)
    )


# Keys whose values identify a person (looked for elsewhere once seen), and
# keys whose values are personal (blanked in a log row about the member), as
# the API's inputs and the webhook payloads name them (snake and camel case).
_IDENTIFYING = {"name", "phone", "email", "external_id", "externalId", "card_number", "cardNumber"}
_PERSONAL = _IDENTIFYING | {
    "birthday", "province", "city", "education", "occupation", "income_range", "incomeRange",
    "interests", "attributes", "value", "identities", "join_source", "joinSource",
}  # fmt: skip
_ROUNDS = 3


def _identifying(value: Any) -> set[str]:
    """Strings under identifying keys (and identities' values) anywhere in ``value``."""
    found: set[str] = set()
    if isinstance(value, dict):
        for key, item in value.items():
            if isinstance(item, str) and (
                key in _IDENTIFYING or (key == "value" and "kind" in value)
            ):
                found.add(item)
            else:
                found |= _identifying(item)
    elif isinstance(value, list):
        for item in value:
            found |= _identifying(item)
    return found


def _scrubbed(value: Any, needles: set[str]) -> Any:
    if isinstance(value, str):
        for needle in sorted(needles, key=len, reverse=True):
            value = value.replace(needle, ERASED_TEXT)
        return value
    if isinstance(value, dict):
        return {
            _scrubbed(k, needles): ERASED_TEXT
            if k in _PERSONAL and v not in (None, "", [], {})
            else _scrubbed(v, needles)
            for k, v in value.items()
        }
    if isinstance(value, list):
        return [_scrubbed(v, needles) for v in value]
    return value
