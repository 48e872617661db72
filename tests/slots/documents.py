"""GraphQL documents and inputs the slots tests share."""

from __future__ import annotations

from typing import Any

CREATIVE = (
    "id slot title imageUrl link altText priority splitGroup splitWeight fallback "
    "startsAt endsAt audience { kind values segmentId }"
)
CREATE = f"""mutation($i: CreateSlotCreativeInput!) {{
  createSlotCreative(input: $i) {{ creative {{ {CREATIVE} }} errors {{ field code message }} }}
}}"""
RESOLVE = """query($k: String!, $m: ID) {
  slot(key: $k, memberId: $m) { key kind entries { reason score variant
    banner { id title imageUrl link altText } item { sku name category active } } }
}"""


def creative(**overrides: Any) -> dict[str, Any]:
    values: dict[str, Any] = {
        "slot": "home_top",
        "title": "Spring sale",
        "imageUrl": "https://cdn.example.com/spring.jpg",
        "link": "/sale",
        "altText": "Spring sale banner",
    }
    values.update(overrides)
    return values
