"""Creating many members at once (an import): the rows
:func:`tessera.members.service.create_member` writes for each, written with
one multi-row insert per table instead of a few statements per member.

The caller drafts each member with
:func:`~tessera.members.service.draft_member` and has already found out that
none of their identities belongs to a member (one lookup for the whole batch);
a concurrent writer that takes one meanwhile makes the whole batch fail on the
unique index, with nothing written, and the caller can fall back to creating
them one by one.
"""

from __future__ import annotations

import json
from collections.abc import Iterable, Iterator, Mapping, Sequence
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any

from tortoise import connections
from tortoise.exceptions import IntegrityError

from tessera.errors import DomainError
from tessera.members import pii
from tessera.members.cards import next_card_numbers
from tessera.members.identities import IdentityKind
from tessera.members.models import Member, MemberIdentity
from tessera.members.profile import MemberStatus
from tessera.members.scheme import JoinRule, get_settings
from tessera.persons import linking as persons
from tessera.reports.rollup import mark_dirty
from tessera.scope import BrandScope
from tessera.uow import UnitOfWork, unit_of_work

_IDENTITY_TABLE = MemberIdentity._meta.db_table


@dataclass
class MemberDraft:
    """A checked new member: ``values`` and ``identities`` as
    :func:`~tessera.members.service.draft_member` returns them."""

    values: dict[str, Any]
    identities: list[tuple[IdentityKind, str]]
    joined_at: datetime | None = None
    # (kind, normalised value) -> blind index, when the caller computed them
    # already (an import does, to look the batch up): not computed twice.
    digests: dict[tuple[str, str], str] | None = None
    # (kind, normalised value) -> sealed token under the brand's current key
    # version (:func:`~tessera.members.pii.seals`), when the caller sealed
    # them already (an import does, in its checking thread).
    sealed: dict[tuple[str, str], str] | None = None


async def create_members(
    scope: BrandScope,
    drafts: Sequence[MemberDraft],
    *,
    imported: bool = False,
    now: datetime | None = None,
    within: UnitOfWork | None = None,
) -> list[int]:
    """Create the drafted members, as :func:`create_member` would one by one
    (status under the join rule, a card number for those who join,
    ``member.joined``), in one unit of work. Returns their ids in order.
    Raises ``DUPLICATE_IDENTITY`` (nothing written) when an identity turned
    out to be taken."""
    if not drafts:
        return []
    now = now or datetime.now(UTC)
    settings = await get_settings(scope)
    joins = JoinRule(settings.join_rule) is JoinRule.REGISTRATION
    status = (MemberStatus.ACTIVE if joins else MemberStatus.PROSPECT).value
    try:
        async with unit_of_work(scope, within=within) as uow:
            conn = uow.connection
            cards: Iterator[str] = iter(())
            if joins:
                kept = {d.values["card_number"] for d in drafts if d.values.get("card_number")}
                missing = sum(1 for d in drafts if not d.values.get("card_number"))
                cards = iter(await next_card_numbers(scope, conn, missing, kept))
            version = scope.brand.identity_key_version
            members: list[dict[str, Any]] = []
            # Each member's identities as (kind, value) text: the keys of the
            # digests and seals, and what the rows hold.
            identities: list[list[tuple[str, str]]] = []
            known: dict[tuple[str, str], str] = {}
            sealed: dict[tuple[str, str], str] = {}
            for draft in drafts:
                known.update(draft.digests or {})
                pairs = [(kind.value, value) for kind, value in draft.identities]
                sealed.update(
                    draft.sealed
                    if draft.sealed is not None
                    else pii.seals(scope.brand_id, version, pairs)
                )
                values = dict(draft.values)
                if joins and not values.get("card_number"):
                    values["card_number"] = next(cards)
                    pairs.append((IdentityKind.CARD_NUMBER.value, values["card_number"]))
                members.append({**values, "status": status, "joined_at": draft.joined_at or now})
                identities.append(pairs)
            # The blind indexes the drafts did not bring (issued cards), at once.
            known.update(
                pii.digests(
                    scope.brand_id,
                    [pair for pairs in identities for pair in pairs if pair not in known],
                )
            )
            ids = await scope.insert_rows(
                Member,
                # A member's phone and email are sealed once, for their
                # identity rows and their profile columns alike.
                [pii.seal_profile(scope.brand_id, version, m, sealed) for m in members],
                conn,
            )
            # Their join days, for the member growth report.
            await mark_dirty(scope, conn, [m["joined_at"] for m in members])
            # Nothing reads the identities' ids back: one COPY on PostgreSQL.
            await scope.copy_values(
                MemberIdentity,
                [
                    {
                        "member_id": member_id,
                        **pii.identity_columns(
                            scope.brand_id,
                            version,
                            kind,
                            value,
                            known[kind, value],
                            sealed.get((kind, value)),
                        ),
                    }
                    for member_id, pairs in zip(ids, identities, strict=True)
                    for kind, value in pairs
                ],
                conn,
            )
            await persons.record_identities(
                scope,
                [
                    (member_id, kind, value)
                    for member_id, pairs in zip(ids, identities, strict=True)
                    for kind, value in pairs
                ],
                new_members=conn,
            )
            if not joins:
                persons.link_after_commit(uow, ids)
            if joins:
                for member_id, member in zip(ids, members, strict=True):
                    uow.emit(
                        "member.joined",
                        member_id=member_id,
                        join_channel=member.get("join_channel") or None,
                        card_number=member["card_number"],
                        imported=imported,
                    )
    except IntegrityError:
        # A concurrent write took an identity between the caller's lookup and now.
        raise DomainError(
            "DUPLICATE_IDENTITY", "another member already has one of these identities"
        ) from None
    return ids


async def identity_owners(
    scope: BrandScope,
    keys: Iterable[tuple[str, str]],
    known: Mapping[tuple[str, str], str] | None = None,
) -> dict[tuple[str, str], int]:
    """Which member holds each (kind, normalised value): one query for a
    whole batch, on the blind index. Hand-written, as the ORM spends longer
    building an ``OR`` of ``IN`` lists of thousands of values than the
    database answering it; the pairs travel as two arrays (PostgreSQL) or one
    JSON text (SQLite)."""
    known = known or {}
    wanted = set(keys)
    computed = pii.digests(scope.brand_id, [key for key in wanted if not known.get(key)])
    by_digest = {(key[0], known.get(key) or computed[key]): key for key in wanted}
    pairs = sorted(by_digest)
    if not pairs:
        return {}
    connection = connections.get("default")
    if connection.capabilities.dialect == "postgres":
        # One index probe per pair (LATERAL, kept from being flattened into
        # a join by OFFSET 0): without it, on a table just filled by COPY (no
        # statistics yet) the planner hashed every identity of the brand for
        # each batch of an import, a cost growing with the file.
        sql = (
            "SELECT w.kind, w.digest, i.member_id FROM unnest($2::text[], $3::text[]) "
            f'AS w(kind, digest) CROSS JOIN LATERAL (SELECT member_id FROM "{_IDENTITY_TABLE}" '
            "WHERE brand_id = $1 AND kind = w.kind AND digest = w.digest OFFSET 0) AS i"
        )
        params: list[Any] = [scope.brand_id, [k for k, _ in pairs], [v for _, v in pairs]]
    else:
        sql = (
            f'SELECT kind, digest, member_id FROM "{_IDENTITY_TABLE}" WHERE brand_id = ? '
            "AND (kind, digest) IN (SELECT json_extract(value, '$[0]'), "
            "json_extract(value, '$[1]') FROM json_each(?))"
        )
        params = [scope.brand_id, json.dumps(pairs)]
    # Rows as the driver gives them (read by position): making a dict of
    # each of a batch's thousands cost more than the query.
    _, rows = await connection.execute_query(sql, params)
    return {by_digest[(row[0], row[1])]: int(row[2]) for row in rows}


async def members_holding(
    scope: BrandScope, rows: Sequence[tuple[str, Sequence[tuple[str, str]]]]
) -> dict[int, int]:
    """For rows of (external id, identities as (kind, normalised value)):
    index of each row whose member, the one with that ``external_id``, holds
    every one of its identities -> that member's id. One query for a whole
    batch, comparing in the database (a batch's members hold thousands of
    identities, more to read than to compare): one probe of the member's
    key and one of its identities per row. The readable identities
    (external ids, card numbers: their ``reference``) are compared by
    value, the others by blind index, as :func:`pii.identity_columns`
    stores them; any other identity row just does not match."""
    if not rows:
        return {}
    sealed = pii.digests(
        scope.brand_id, {key for _, keys in rows for key in keys if pii.is_sealed(key[0])}
    )
    # A token per identity: the kind, then ":" and its digest or "=" and its
    # value (no kind holds either character).
    tokens = [
        [
            f"{kind}:{sealed[kind, value]}" if pii.is_sealed(kind) else f"{kind}={value}"
            for kind, value in keys
        ]
        for _, keys in rows
    ]
    held = (
        "SELECT CASE WHEN reference IS NULL THEN kind || ':' || digest "
        f"ELSE kind || '=' || reference END FROM \"{_IDENTITY_TABLE}\" "
    )
    member_table = Member._meta.db_table
    connection = connections.get("default")
    # The rows as one JSON text: [[external id, [token, ...]], ...].
    pairs = json.dumps([[row[0], wanted] for row, wanted in zip(rows, tokens, strict=True)])
    if connection.capabilities.dialect == "postgres":
        # LATERAL ... OFFSET 0 as in identity_owners: a probe per row,
        # whatever the statistics of tables just filled by COPY.
        sql = (
            "SELECT w.n - 1, m.id "
            "FROM jsonb_array_elements($2::jsonb) WITH ORDINALITY AS w(row, n) "
            f'CROSS JOIN LATERAL (SELECT id FROM "{member_table}" WHERE brand_id = $1 '
            "AND external_id = w.row ->> 0 OFFSET 0) AS m "
            "WHERE ARRAY(SELECT jsonb_array_elements_text(w.row -> 1)) "
            f"<@ ARRAY({held}WHERE brand_id = $1 AND member_id = m.id)"
        )
        params: list[Any] = [scope.brand_id, pairs]
    else:
        sql = (
            f'SELECT w.key, m.id FROM json_each(?) AS w JOIN "{member_table}" AS m '
            "ON m.brand_id = ? AND m.external_id = json_extract(w.value, '$[0]') "
            "WHERE NOT EXISTS (SELECT 1 FROM json_each(json_extract(w.value, '$[1]')) AS k "
            f"WHERE k.value NOT IN ({held}WHERE brand_id = ? AND member_id = m.id))"
        )
        params = [pairs, scope.brand_id, scope.brand_id]
    _, found = await connection.execute_query(sql, params)
    return {int(row[0]): int(row[1]) for row in found}
