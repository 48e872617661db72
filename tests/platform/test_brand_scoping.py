"""One scoping mechanism (DESIGN.md, Tenancy): code reaches brand-owned rows
only through ``BrandScope``. This walks the source (an AST walk, not a
pattern) and fails on

- a query method called on a brand-owned model, however it is reached
  (``Member.filter``, ``models.Member.annotate``, ``Member.all().count()``);
- any raw SQL (``execute_query*``, ``execute_script``, ``execute_many``,
  ``RawSQL``, a driver's ``execute``/``fetch``) outside the list below, where
  each site says why it is scoped to one brand.

A stale entry in either list fails too, so the lists stay the truth. The
isolation tests and PostgreSQL's composite foreign keys (docs/operations.md,
"Brand walls") catch what a source scan cannot see."""

from __future__ import annotations

import ast
from dataclasses import dataclass
from pathlib import Path

from tortoise import Tortoise

from tessera.db import APP_LABEL
from tessera.models_base import BrandOwned

ROOT = Path(__file__).resolve().parents[2]
FOLDERS = ("platform", "schema", "plugins", "admin_ui")

QUERY_METHODS = {
    "all",
    "filter",
    "exclude",
    "get",
    "get_or_none",
    "first",
    "last",
    "create",
    "bulk_create",
    "bulk_update",
    "get_or_create",
    "update_or_create",
    "select_for_update",
    "select_related",
    "prefetch_related",
    "raw",
    "in_bulk",
    "exists",
    "count",
    "annotate",
    "values",
    "values_list",
    "update",
    "delete",
    "only",
    "order_by",
    "distinct",
    "group_by",
    "limit",
    "offset",
    "using_db",
}
RAW_SQL_CALLS = {
    "execute_query",
    "execute_query_dict",
    "execute_script",
    "execute_many",
    "execute_insert",
    "execute",
    "executemany",
    "fetch",
    "fetchrow",
    "fetchval",
}

# Direct queries of a brand-owned model that must work across brands:
# (file, model) -> why.
ALLOWED_MODEL_QUERIES = {
    (
        "platform/auth/api_keys.py",
        "ApiKey",
    ): "finds a key by its public prefix before any brand is known",
    (
        "platform/auth/member_tokens.py",
        "Member",
    ): "a member token's member, filtered on the brand its signed claims name, with that brand",
    (
        "platform/auth/admin_users.py",
        "AdminRole",
    ): "lists the brands a signed-in admin user holds a role on, before one is chosen",
    (
        "platform/channels/triggers.py",
        "TriggerRule",
    ): "the hourly birthday run finds the brands that have a birthday rule (ids only)",
}
# Files exempt as a whole: -> why.
ALLOWED_FILES = {
    "platform/testing.py": "test fixtures create databases and empty every table",
    "platform/outbox/store.py": "the relay claims and runs every brand's follow-up work by entry id",
    "platform/outbox/relay.py": "the relay works off every brand's outbox and prunes done entries",
    "platform/cli/outbox.py": "the operator's status view counts and retries every brand's entries",
    "platform/migrations_data.py": "a migration's data step rewrites every brand's rows, each "
    "under its own brand's keys",
}
# Raw SQL: (file, enclosing function) -> why it touches one brand only.
ALLOWED_RAW_SQL = {
    ("platform/app.py", "readyz"): "SELECT 1, no table",
    ("platform/db.py", "analyze"): "ANALYZE of the tables named, reads no row",
    (
        "platform/channels/gate.py",
        "decide_batch",
    ): "a batch's messages and their outbox rows, set-based; every table WHERE brand_id = the scope's",
    (
        "platform/campaigns/sending.py",
        "snapshot",
    ): "INSERT campaign_recipient … SELECT segment_membership WHERE brand_id = the campaign's",
    (
        "platform/campaigns/sending.py",
        "campaigns_batch",
    ): "UPDATE campaign_recipient WHERE brand_id = the campaign's, message of the same brand",
    (
        "platform/campaigns/sending.py",
        "counts",
    ): "one GROUP BY over campaign_recipient WHERE brand_id = the scope's, joined by message id",
    (
        "platform/slots/resolve.py",
        "_read",
    ): "the page-view statement of _statement: every part and CTE WHERE brand_id = the scope's",
    (
        "platform/members/merge.py",
        "_combine_ledgers",
    ): "UPDATE asset_account … FROM the merged account, both WHERE brand_id = the scope's",
    (
        "platform/members/merge.py",
        "_combine_allowances",
    ): "UPDATE coupon_allowance from the merged member's rows, both WHERE brand_id = the scope's",
    (
        "platform/members/merge.py",
        "_recount",
    ): "UPDATE asset_account WHERE brand_id = the scope's, sums of rows of the same brand",
    (
        "platform/members/duplicates.py",
        "scan",
    ): "SELECT of member pairs WHERE brand_id = the scope's (both sides joined on it)",
    (
        "platform/assets/batch.py",
        "credit_many",
    ): "INSERT … SELECT from the scope's brand's members only",
    ("platform/assets/batch.py", "_lock"): "SELECT … WHERE brand_id = the scope's",
    (
        "platform/assets/batch.py",
        "_insert_entries",
    ): "INSERT of entries and their lots (_INSERT_ENTRIES) whose brand_id is one bound value, "
    "the scope's",
    ("platform/assets/batch.py", "_move"): "UPDATE asset_account WHERE brand_id = the scope's",
    (
        "platform/pipeline/state.py",
        "_rows",
    ): "callers' statements all say WHERE brand_id = ? with the scope's brand id",
    (
        "platform/tiers/batch.py",
        "_update_states",
    ): "UPDATE member_tier_state WHERE brand_id = the scope's",
    (
        "platform/assets/accounts.py",
        "_returning",
    ): "conditional balance update WHERE brand_id = the scope's and id = the account's",
    (
        "platform/assets/accounts.py",
        "open_account",
    ): "INSERT … SELECT from the scope's brand's members only",
    (
        "platform/audit/service.py",
        "record",
    ): "INSERT of an entry whose brand_id is the scope's",
    (
        "platform/auth/api_keys.py",
        "_live",
    ): "by the primary key of a key this process authenticated; its brand's features by its brand",
    (
        "platform/assets/lots.py",
        "_available",
    ): "SELECT of points_lot WHERE brand_id = the scope's",
    (
        "platform/assets/lots.py",
        "consume",
    ): "UPDATE points_lot WHERE brand_id = the scope's",
    (
        "platform/assets/service.py",
        "_insert_entry",
    ): "INSERTs of a ledger entry and its lot whose brand_id is the unit of work's scope's",
    (
        "platform/members/attributes.py",
        "delete_definition",
    ): "UPDATE member … WHERE brand_id = the scope's",
    (
        "platform/members/search.py",
        "_attribute_conditions",
    ): "RawSQL column annotated onto a scope.query(Member) queryset",
    ("platform/orders/stats.py", "ensure_rows"): "inserts rows carrying the scope's brand_id",
    ("platform/orders/stats.py", "add_orders"): "UPDATE member_stats WHERE brand_id = the scope's",
    ("platform/orders/stats.py", "stats_for_members"): (
        "SELECT member_stats WHERE brand_id = the scope's, its orders by the same brand"
    ),
    (
        "platform/orders/stats.py",
        "lock_brand_stats",
    ): "an advisory lock keyed by the scope's brand_id, no table",
    (
        "platform/members/merge.py",
        "_merge_lock",
    ): "an advisory lock keyed by the scope's brand_id, no table",
    (
        "platform/segments/compiler.py",
        "count_and_sample",
    ): "the compiled rule's SQL starts from WHERE m.brand_id = the scope's",
    (
        "platform/persons/linking.py",
        "_labels",
    ): "a temporary table of one tenant's person_identity rows (no brand-owned table), "
    "every statement says tenant_id = the tenant's",
    (
        "platform/persons/linking.py",
        "_new_persons",
    ): "INSERT of person rows (tenant-owned, no brand's) of the linking tenant",
    (
        "platform/persons/reading.py",
        "_rows",
    ): "a tenant-wide read (persons scope or tenant owner): every statement joins brand "
    "ON b.tenant_id = the TenantScope's and each member-owned table on the link's brand_id",
    ("platform/segments/lifecycle.py", "quintiles"): "bound brand_id of the scope",
    ("platform/segments/lifecycle.py", "compute"): "WHERE m.brand_id = the scope's",
    ("platform/segments/materialise.py", "apply"): "every statement carries _scope_sql(brand_id)",
    ("platform/segments/materialise.py", "count"): "_scope_sql(brand_id)",
    ("platform/segments/service.py", "size_history"): "WHERE brand_id = the scope's",
    (
        "platform/tags/bulk.py",
        "insert_assignments",
    ): "rows carry the given brand_id; tag and member ids were resolved in the scope",
    ("platform/tags/bulk.py", "delete_assignments"): "DELETE … WHERE brand_id = $1",
    ("platform/scope.py", "insert_rows"): "INSERT of rows given the scope's brand_id",
    ("platform/scope.py", "rows_by_key"): "SELECT … WHERE brand_id = the scope's",
    ("platform/scope.py", "_copy_rows"): "draws ids from a sequence; COPY rows given the brand_id",
    ("platform/members/batch.py", "identity_owners"): "SELECT … WHERE brand_id = the scope's",
    ("platform/members/cards.py", "next_card_numbers"): "UPDATE … WHERE brand_id = the scope's",
    ("platform/members/service.py", "_by_identity"): "SELECT … WHERE brand_id = the scope's",
    (
        "platform/members/batch.py",
        "members_holding",
    ): "SELECT members and their identities … WHERE brand_id = the scope's (both tables)",
    (
        "platform/privacy/erasure.py",
        "rows_quoting",
    ): "RawSQL cast of a JSON column annotated onto a scope.query(...) queryset",
    (
        "platform/importing/members.py",
        "_imported_tags",
    ): "SELECT tag assignments … WHERE brand_id = the scope's",
    ("platform/privacy/erased.py", "erased_among"): "SELECT digest … WHERE brand_id = the scope's",
    (
        "platform/assets/service.py",
        "_insert_spending_entry",
    ): "INSERT the entry of the scope's brand; UPDATE its lots WHERE brand_id = the scope's",
    (
        "platform/members/latest.py",
        "latest_per_member",
    ): "window query WHERE brand_id = the scope's (bound); rows then fetched via the scope",
    (
        "platform/members/search.py",
        "first_page",
    ): "the unfiltered members page: member WHERE brand_id = the scope's (an int in the text)",
    (
        "platform/tags/service.py",
        "live_tags_of",
    ): "a page's live tags: tag_assignment and tag both WHERE brand_id = the scope's",
    (
        "platform/reports/api.py",
        "rows",
    ): "report SQL: every statement binds the context's brand id (tests/reports isolation test)",
    (
        "platform/reports/service.py",
        "facts_version",
    ): "MAX(id) of fact tables across brands: a cache version, no row is read",
}


@dataclass(frozen=True)
class Finding:
    path: str
    line: int
    function: str
    kind: str  # "model" or "raw"
    what: str  # the model name, or the raw call

    def __str__(self) -> str:
        return f"{self.path}:{self.line} in {self.function}: {self.what}"


def brand_owned_models(tessera_runtime) -> set[str]:
    return {
        name for name, model in Tortoise.apps[APP_LABEL].items() if issubclass(model, BrandOwned)
    }


def _model_at_root(node: ast.expr, models: set[str]) -> str | None:
    """The brand-owned model a chain of calls and attributes starts from:
    ``Member`` in ``Member.all().filter``, in ``models.Member`` and in
    ``members.models.Member.filter``."""
    while True:
        if isinstance(node, ast.Call):
            node = node.func
        elif isinstance(node, ast.Attribute):
            if node.attr in models:
                return node.attr
            node = node.value
        elif isinstance(node, ast.Name):
            return node.id if node.id in models else None
        else:
            return None


def scan(path: Path, models: set[str], rel: str | None = None) -> list[Finding]:
    rel = rel or path.name
    tree = ast.parse(path.read_text(), str(path))
    found: list[Finding] = []

    def visit(node: ast.AST, function: str) -> None:
        for child in ast.iter_child_nodes(node):
            name = function
            if isinstance(child, ast.FunctionDef | ast.AsyncFunctionDef):
                name = child.name
            if isinstance(child, ast.Call):
                func = child.func
                if isinstance(func, ast.Name) and func.id == "RawSQL":
                    found.append(Finding(rel, child.lineno, name, "raw", "RawSQL"))
                elif isinstance(func, ast.Attribute):
                    if func.attr in RAW_SQL_CALLS:
                        found.append(Finding(rel, child.lineno, name, "raw", ast.unparse(func)))
                    elif func.attr in QUERY_METHODS:
                        model = _model_at_root(func.value, models)
                        if model is not None:
                            found.append(
                                Finding(rel, child.lineno, name, "model", f"{model}.{func.attr}")
                            )
            visit(child, name)

    visit(tree, "<module>")
    return found


def all_findings(models: set[str]) -> list[Finding]:
    findings = []
    for folder in FOLDERS:
        for path in sorted((ROOT / folder).rglob("*.py")):
            rel = path.relative_to(ROOT).as_posix()
            if "/migrations/" in rel:
                continue
            findings += scan(path, models, rel)
    return findings


def test_brand_owned_rows_are_reached_only_through_the_scope(tessera_runtime):
    models = brand_owned_models(tessera_runtime)
    assert {"ApiKey", "BrandFeature", "AuditLogEntry", "Member"} <= models
    offences = [
        str(f)
        for f in all_findings(models)
        if f.path not in ALLOWED_FILES
        and not (f.kind == "model" and (f.path, f.what.split(".")[0]) in ALLOWED_MODEL_QUERIES)
        and not (f.kind == "raw" and (f.path, f.function) in ALLOWED_RAW_SQL)
    ]
    assert not offences, (
        "query through BrandScope, or list the raw SQL with its reason:\n" + "\n".join(offences)
    )


def test_every_exemption_is_still_needed(tessera_runtime):
    findings = all_findings(brand_owned_models(tessera_runtime))
    used_models = {(f.path, f.what.split(".")[0]) for f in findings if f.kind == "model"}
    used_raw = {(f.path, f.function) for f in findings if f.kind == "raw"}
    used_files = {f.path for f in findings}
    assert set(ALLOWED_MODEL_QUERIES) - used_models == set()
    assert set(ALLOWED_RAW_SQL) - used_raw == set()
    assert set(ALLOWED_FILES) - used_files == set()


SAMPLE = """
from tessera.members import models

async def plain():
    return await Member.filter(name="x")

async def chained():
    return await Member.all().annotate(n=Count("id")).values_list("id", flat=True)

async def counted():
    return await Member.all().count()

async def changed():
    await Member.filter(id=1).update(name="y")
    await Tag.filter(id=1).delete()

async def dotted():
    return await models.Member.get_or_none(id=1)

async def raw(conn):
    return await conn.execute_query_dict("SELECT 1")

async def annotated(q):
    return q.annotate(x=RawSQL("1"))

async def scoped(scope):
    return await scope.query(Member).filter(name="x").count()
"""


def test_the_scan_catches_every_shape_of_direct_query(tmp_path):
    sample = tmp_path / "sample.py"
    sample.write_text(SAMPLE)
    found = {(f.function, f.what) for f in scan(sample, {"Member", "Tag"})}
    assert found == {
        ("plain", "Member.filter"),
        ("chained", "Member.values_list"),
        ("chained", "Member.annotate"),
        ("chained", "Member.all"),
        ("counted", "Member.count"),
        ("counted", "Member.all"),
        ("changed", "Member.update"),
        ("changed", "Member.filter"),
        ("changed", "Tag.delete"),
        ("changed", "Tag.filter"),
        ("dotted", "Member.get_or_none"),
        ("raw", "conn.execute_query_dict"),
        ("annotated", "RawSQL"),
    }
