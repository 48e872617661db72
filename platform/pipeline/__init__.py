"""Pipelines: the flows that compose several domains (an order touches
members, orders, checkout, rewards, assets and tiers). They sit above the
domains they call; no domain imports them (DESIGN.md, Layout)."""
