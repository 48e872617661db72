"""Built-in slot kinds (docs/slots.md): banners chosen by audience, window
and priority, with A/B splits; and recommendations (bought together, popular
with the member's audience, rules).

They use only the public plugin API: Tessera loads the stored data each kind
asks for (:meth:`SlotKind.needs`) and ``render`` decides in memory.
"""

from __future__ import annotations

from tessera import SlotKind, hookimpl
from tessera.plugins.slots.banner import BannerSlot
from tessera.plugins.slots.recommend import CoPurchaseSlot, PopularSlot, RulesSlot


@hookimpl
def tessera_register_slot_kinds() -> list[type[SlotKind]]:
    return [BannerSlot, CoPurchaseSlot, PopularSlot, RulesSlot]
