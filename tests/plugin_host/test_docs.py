"""docs/plugins.md cannot drift from the hookspecs and the public plugin API."""

from __future__ import annotations

import ast
import importlib
import importlib.metadata
import inspect
import re
import sys
import tomllib
from pathlib import Path

import pytest

import tessera
from tessera.plugin_host import hookspecs

ROOT = Path(__file__).parents[2]
DOCS = (ROOT / "docs" / "plugins.md").read_text()
HOOKS = sorted(
    name
    for name, function in inspect.getmembers(hookspecs, inspect.isfunction)
    if name.startswith("tessera_")
)


def section(heading: str) -> str:
    """The text under a `### heading` up to the next heading."""
    match = re.search(rf"^### {re.escape(heading)}\n(.*?)(?=^#)", DOCS, re.M | re.S)
    return match.group(1) if match else ""


def test_hookspecs_were_found():
    assert "tessera_on_event" in HOOKS and len(HOOKS) >= 6


@pytest.mark.parametrize("hook", HOOKS)
def test_every_hook_and_each_argument_is_documented(hook):
    arguments = list(inspect.signature(getattr(hookspecs, hook)).parameters)
    heading = f"`{hook}({', '.join(arguments)})`"
    body = section(heading)
    assert body, f"docs/plugins.md has no '### {heading}' section"
    for argument in arguments:
        assert f"`{argument}`" in body, f"argument {argument!r} of {hook} is not explained"


@pytest.mark.parametrize("hook", HOOKS)
def test_every_hookspec_has_the_authors_reference(hook):
    doc = inspect.getdoc(getattr(hookspecs, hook)) or ""
    assert "Example::" in doc
    for argument in inspect.signature(getattr(hookspecs, hook)).parameters:
        assert f":param {argument}:" in doc
    if hook.startswith("tessera_register_"):
        assert ":returns:" in doc


@pytest.mark.parametrize("name", tessera.__all__)
def test_every_public_plugin_api_name_is_documented(name):
    assert f"`{name}`" in DOCS, f"tessera.{name} is public but not in docs/plugins.md"


def test_documented_hooks_all_exist():
    documented = set(re.findall(r"^### `(tessera_\w+)\(", DOCS, re.M))
    assert documented == set(HOOKS)


# The example files the guide shows, each marked `<!-- file: path -->` above its
# code block, so they can be written out and run as a partner would.
EXAMPLES = dict(re.findall(r"<!-- file: (\S+) -->\n```\w*\n(.*?)```", DOCS, re.S))
PACKAGES = sorted(path.split("/")[0] for path in EXAMPLES if path.endswith("/__init__.py"))
EXAMPLE_TESTS = [
    (path, node.name)
    for path, code in EXAMPLES.items()
    if path.startswith("tests/")
    for node in ast.parse(code).body
    if isinstance(node, ast.AsyncFunctionDef) and node.name.startswith("test_")
]


def test_the_guides_examples_were_found():
    assert PACKAGES == ["acme_member_day", "acme_sms"]
    assert {path for path, _ in EXAMPLE_TESTS} == {
        "tests/test_acme_sms.py",
        "tests/test_member_day.py",
        "tests/test_acme_sms_refusals.py",
    }


def test_the_example_depends_on_tesseras_own_distribution():
    ours = tomllib.loads((ROOT / "pyproject.toml").read_text())["project"]["name"]
    assert importlib.metadata.distribution(ours).read_text("entry_points.txt")
    example = tomllib.loads(EXAMPLES["pyproject.toml"])["project"]
    assert example["dependencies"] == [ours]
    assert example["entry-points"]["tessera"] == {"acme-sms": "acme_sms"}
    shipped = tomllib.loads((ROOT / "tests" / "example_plugin" / "pyproject.toml").read_text())
    assert shipped["project"]["dependencies"] == [ours]


@pytest.fixture
def guide_plugins(tmp_path, monkeypatch, register_plugin):
    """The guide's plugins written to files, imported and registered under the
    entry-point names a partner would give them."""
    for path, code in EXAMPLES.items():
        target = tmp_path / path
        target.parent.mkdir(parents=True, exist_ok=True)
        target.write_text(code)
    monkeypatch.syspath_prepend(str(tmp_path))
    try:
        for package in PACKAGES:
            register_plugin(importlib.import_module(package), package.replace("_", "-"))
        yield
    finally:
        for package in PACKAGES:
            sys.modules.pop(package, None)


@pytest.mark.parametrize(("path", "name"), EXAMPLE_TESTS)
async def test_the_guides_example_runs_as_written(
    path,
    name,
    guide_plugins,
    brand_a,
    brand_b,
    enable_feature,
    emit_event,
    new_member,
    api_key,
    gql,
    caplog,
):
    namespace: dict = {}
    exec(compile(EXAMPLES[path], path, "exec"), namespace)
    example = namespace[name]
    fixtures = {
        "brand_a": brand_a,
        "brand_b": brand_b,
        "enable_feature": enable_feature,
        "emit_event": emit_event,
        "new_member": new_member,
        "api_key": api_key,
        "gql": gql,
        "caplog": caplog,
    }
    await example(**{p: fixtures[p] for p in inspect.signature(example).parameters})
