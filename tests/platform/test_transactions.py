"""One way to open a transaction: the unit of work (``tessera.uow``), nested
as a savepoint ``within`` a caller's. This walks the source (an AST walk) and
fails on any other place that opens one, however it is spelled
(``in_transaction()``, ``transactions.atomic``, ``conn._in_transaction()``).
A stale entry fails too, so the list stays the truth."""

from __future__ import annotations

import ast
from collections import Counter
from pathlib import Path

import pytest

from tessera.scope import BrandScope
from tessera.tags.models import Tag
from tessera.uow import unit_of_work

ROOT = Path(__file__).resolve().parents[2]
FOLDERS = ("platform", "schema", "plugins", "admin_ui")
OPENERS = {"in_transaction", "_in_transaction", "atomic"}

# Each allowed site, with why it cannot be a unit of work.
ALLOWED = {
    # The unit of work itself: its own transaction, or its nested savepoint.
    "platform/uow.py": 1,
    # The mutation's enclosing transaction, which units of work defer to.
    "platform/after_commit.py": 1,
    # Creating a brand: there is no brand scope yet for a unit of work.
    "platform/tenancy/service.py": 1,
}


def _openers() -> Counter[str]:
    found: Counter[str] = Counter()
    for folder in FOLDERS:
        for path in sorted((ROOT / folder).rglob("*.py")):
            rel = path.relative_to(ROOT).as_posix()
            if rel.startswith("platform/migrations/"):
                continue  # migrations run under the migration tool's own transaction
            for node in ast.walk(ast.parse(path.read_text(), rel)):
                if not isinstance(node, ast.Call):
                    continue
                func = node.func
                name = func.attr if isinstance(func, ast.Attribute) else getattr(func, "id", "")
                if name in OPENERS:
                    found[rel] += 1
    return found


def test_transactions_are_opened_only_by_the_unit_of_work() -> None:
    assert _openers() == ALLOWED


def test_the_scan_sees_every_spelling(tmp_path: Path) -> None:
    source = (
        "async def f(uow):\n"
        "    async with in_transaction():\n"
        "        pass\n"
        "    async with uow.connection._in_transaction():\n"
        "        pass\n"
        "    @transactions.atomic()\n"
        "    async def g(): ...\n"
    )
    calls = [n for n in ast.walk(ast.parse(source)) if isinstance(n, ast.Call)]
    names = {
        n.func.attr if isinstance(n.func, ast.Attribute) else getattr(n.func, "id", "")
        for n in calls
    }
    assert names >= OPENERS


async def test_a_nested_unit_of_work_is_a_savepoint_whose_work_joins_the_outer_one(brand_a):
    scope = BrandScope(brand_a)
    async with unit_of_work(scope) as outer:
        await scope.create(Tag, using_db=outer.connection, code="outer", name="outer")
        with pytest.raises(RuntimeError):
            async with unit_of_work(scope, outer) as failed:
                await scope.create(Tag, using_db=failed.connection, code="lost", name="lost")
                failed.emit("tag.lost")
                failed.follow_up("lost_job")
                raise RuntimeError("the savepoint rolls back")
        async with unit_of_work(scope, outer) as kept:
            assert kept is not outer
            await scope.create(Tag, using_db=kept.connection, code="kept", name="kept")
            kept.emit("tag.kept")
        assert [e.name for e in outer.events] == ["tag.kept"]
        assert outer.follow_ups == []
    codes = await scope.query(Tag).order_by("code").values_list("code", flat=True)
    assert codes == ["kept", "outer"]
