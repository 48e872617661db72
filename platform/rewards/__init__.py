"""Rewards: what facts earn. The order-rewards pipeline (points from every
active points rule, growth and tier changes from the active tier policy),
its reversal on refunds, check-ins, activities and referrals
(docs/loyalty.md)."""
