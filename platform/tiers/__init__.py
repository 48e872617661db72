"""Tiers: a brand's tier definitions, each member's tier and its history
(docs/loyalty.md). Which tier a member belongs in is the active tier policy's
call; :mod:`tessera.tiers.service` applies its answers."""
