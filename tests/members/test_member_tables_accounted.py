"""Every table that holds a member's rows is decided for by member merge and
by erasure: a table added later without either fails here, rather than
leaving a merged member's rows behind or an erased member's personal data in
place. (The member export has its own check in tests/privacy/test_export.py.)

A table counts when it links to ``member`` or has a ``member_id`` column;
it is decided for when its model is named in the module that does the work,
or listed below with the reason that module leaves it alone."""

from __future__ import annotations

import ast
from pathlib import Path

from tortoise import Tortoise, fields

from tessera.db import APP_LABEL
from tessera.members import merge
from tessera.privacy import erasure

MERGE_LEAVES = {
    "MemberStats": "rebuilt for both members by rebuild_member_stats",
    "PersonMember": "relinked by persons.relink_member",
    "PersonIdentity": "moved with the identities by persons.move_identities",
    "MemberExport": "an export stays the document of the member it was made for",
    "LegalHold": "a hold names the member an authority asked about, tombstone or not",
    "SalesDay": "the days of moved orders are marked dirty and rebuilt",
}
ERASURE_LEAVES = {
    "AssetAccount": "the books: balances stay, no personal data in them",
    "LedgerEntry": "the books",
    "Order": "the books: sales stay, the member's personal data is not in them",
    "Refund": "the books",
    "Coupon": "the books: issued and used coupons stay countable",
    "CouponAllowance": "counts of coupons issued, no personal data",
    "CouponRedemption": "the books",
    "RewardHold": "the books: a hold settles or lapses as money does",
    "MemberStats": "figures about the books",
    "MemberTierState": "the tier held, no personal data",
    "TierHistory": "tier changes, no personal data",
    "CheckIn": "days of check-in, no personal data",
    "Referral": "who referred whom, between pseudonymous member ids",
    "PersonMember": "forgotten by persons.forget_member",
    "PersonIdentity": "forgotten by persons.forget_member",
    "SalesDay": "figures about the books, rebuilt from the orders",
}


def _member_tables() -> set[str]:
    names = set()
    for name, model in Tortoise.apps[APP_LABEL].items():
        for key, field in model._meta.fields_map.items():
            links = (
                isinstance(
                    field,
                    fields.relational.ForeignKeyFieldInstance
                    | fields.relational.OneToOneFieldInstance,
                )
                and field.related_model.__name__ == "Member"
            )
            if links or key == "member_id":
                names.add(name)
    return names


def _named_in(module: object) -> set[str]:
    tree = ast.parse(Path(module.__file__).read_text())  # type: ignore[attr-defined]
    return {node.id for node in ast.walk(tree) if isinstance(node, ast.Name)}


def test_merge_decides_for_every_table_with_member_rows(tessera_runtime):
    undecided = _member_tables() - _named_in(merge) - set(MERGE_LEAVES)
    assert not undecided, f"member merge neither moves nor knowingly leaves: {sorted(undecided)}"


def test_erasure_decides_for_every_table_with_member_rows(tessera_runtime):
    undecided = _member_tables() - _named_in(erasure) - set(ERASURE_LEAVES)
    assert not undecided, f"erasure neither deletes nor knowingly keeps: {sorted(undecided)}"


def test_the_lists_name_only_tables_left_alone(tessera_runtime):
    tables = _member_tables()
    assert set(MERGE_LEAVES) <= tables and set(ERASURE_LEAVES) <= tables
    # A table the module names is decided there: the lists stay short and true.
    assert not set(MERGE_LEAVES) & _named_in(merge)
    assert not set(ERASURE_LEAVES) & _named_in(erasure)
