"""The receiver of docs/webhooks.md, loaded from the page itself so the
example a partner copies is the one these tests run."""

from __future__ import annotations

import re
from pathlib import Path
from types import ModuleType

DOC = Path(__file__).resolve().parents[2] / "docs" / "webhooks.md"


def load() -> ModuleType:
    text = DOC.read_text()
    match = re.search(r"<!-- file: receiver.py -->\n```python\n(.*?)```", text, re.S)
    assert match, "docs/webhooks.md lost its receiver example"
    module = ModuleType("receiver_example_doc")
    exec(compile(match.group(1), str(DOC), "exec"), module.__dict__)
    return module
