"""docs/plugins.md cannot drift from the hookspecs and the public plugin API."""

from __future__ import annotations

import inspect
import re
from pathlib import Path

import pytest

import tessera
from tessera.plugin_host import hookspecs

DOCS = (Path(__file__).parents[2] / "docs" / "plugins.md").read_text()
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
