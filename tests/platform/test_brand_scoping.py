"""One scoping mechanism (DESIGN.md, Tenancy): code reaches brand-owned rows
only through ``BrandScope``. This walks the source and fails on a direct query
of a brand-owned model anywhere else, so a forgotten brand filter cannot land."""

from __future__ import annotations

import ast
from pathlib import Path

from tortoise import Tortoise

from tessera.db import APP_LABEL
from tessera.models_base import BrandOwned

ROOT = Path(__file__).resolve().parents[2]
QUERY_METHODS = {
    "all",
    "filter",
    "exclude",
    "get",
    "get_or_none",
    "first",
    "create",
    "bulk_create",
    "get_or_create",
    "update_or_create",
    "select_for_update",
    "raw",
    "in_bulk",
    "exists",
}
# Places that must work across brands, each for a stated reason.
ALLOWED = {
    # Finds a key by its public prefix before any brand is known.
    ("platform/auth/api_keys.py", "ApiKey"),
    # Lists the brands a signed-in admin user holds a role on, before one is chosen.
    ("platform/auth/admin_users.py", "AdminRole"),
    # Serves exactly one event's brand_id, named in the event.
    ("platform/plugin_host/dispatch.py", "BrandFeature"),
    # The scoping mechanism itself.
    ("platform/scope.py", "*"),
    # Test fixtures empty and inspect tables.
    ("platform/testing.py", "*"),
}


def brand_owned_models(tessera_runtime) -> set[str]:
    return {
        name for name, model in Tortoise.apps[APP_LABEL].items() if issubclass(model, BrandOwned)
    }


def direct_queries(path: Path, models: set[str]) -> list[tuple[int, str]]:
    found = []
    for node in ast.walk(ast.parse(path.read_text(), str(path))):
        if (
            isinstance(node, ast.Call)
            and isinstance(node.func, ast.Attribute)
            and node.func.attr in QUERY_METHODS
            and isinstance(node.func.value, ast.Name)
            and node.func.value.id in models
        ):
            found.append((node.lineno, f"{node.func.value.id}.{node.func.attr}"))
    return found


def test_brand_owned_models_are_reached_only_through_the_scope(tessera_runtime):
    models = brand_owned_models(tessera_runtime)
    assert {"ApiKey", "BrandFeature", "AuditLogEntry"} <= models
    offences = []
    for folder in ("platform", "schema", "plugins", "admin_ui"):
        for path in sorted((ROOT / folder).rglob("*.py")):
            rel = path.relative_to(ROOT).as_posix()
            if "/migrations/" in rel or (rel, "*") in ALLOWED:
                continue
            for line, call in direct_queries(path, models):
                if (rel, call.split(".")[0]) not in ALLOWED:
                    offences.append(f"{rel}:{line}: {call}")
    assert not offences, "query through BrandScope instead:\n" + "\n".join(offences)


def test_the_checker_catches_a_direct_query(tmp_path):
    sample = tmp_path / "sample.py"
    sample.write_text("async def f():\n    return await Member.filter(name='x')\n")
    assert direct_queries(sample, {"Member"}) == [(2, "Member.filter")]
