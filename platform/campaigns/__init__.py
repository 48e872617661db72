"""Campaigns: one message to every member of a segment snapshot, with a random
holdout, sent in throttled batches exactly once per member, and what the sends
brought against the holdout (docs/campaigns.md)."""
