"""Outbound webhooks: a brand's subscriptions, and deliveries of its domain
events to them, signed, retried and logged (docs/webhooks.md)."""
