"""docs/api.md's `codegen.ts` maps every custom scalar of the published SDL, and
each of those scalars says which specification it follows."""

from __future__ import annotations

import re
from pathlib import Path

ROOT = Path(__file__).resolve().parents[2]


def test_codegen_config_maps_every_custom_scalar() -> None:
    docs = (ROOT / "docs" / "api.md").read_text()
    block = docs.split("```ts\n", 1)[1].split("```", 1)[0]
    assert "export default config" in block
    mapped = set(
        re.findall(r"^\s+(\w+): \"", block.split("scalars: {", 1)[1].split("}", 1)[0], re.M)
    )
    sdl = (ROOT / "schema" / "schema.graphql").read_text()
    scalars = dict(re.findall(r"^scalar (\w+)(.*)$", sdl, re.M))
    assert mapped == set(scalars)
    for name, rest in scalars.items():
        assert "@specifiedBy(url:" in rest, name
