"""One row per piece of follow-up work (docs/operations.md, "The outbox")."""

from __future__ import annotations

from tortoise import fields

from tessera.models_base import BrandOwned


class OutboxEntry(BrandOwned):
    """Work to run after the transaction that wrote it committed.

    ``kind`` names a registered job (:mod:`tessera.jobs.registry`) and
    ``payload`` holds its arguments. A ``key`` coalesces: while one entry with
    that key waits in a brand's outbox, another with the same key is not
    written. The key is released when the work is claimed, so a change made
    while the work runs queues it again.
    """

    id = fields.BigIntField(primary_key=True)
    kind = fields.CharField(max_length=64, description="the registered job that does the work")
    payload = fields.JSONField(description='{"args": [...], "kwargs": {...}} of the job')
    key = fields.CharField(
        max_length=200, null=True, description="coalescing key while pending, else null"
    )
    created_at = fields.DatetimeField(auto_now_add=True)
    available_at = fields.DatetimeField(
        description="due from then on (a claim pushes it past the claim's lease)"
    )
    attempts = fields.IntField(default=0, description="claims so far")
    done_at = fields.DatetimeField(null=True)
    failed_at = fields.DatetimeField(null=True, description="set when the attempts ran out")
    last_error = fields.TextField(null=True)

    class Meta:
        table = "outbox"
        unique_together = (("brand_id", "key"),)
        indexes = (("done_at", "available_at"),)
