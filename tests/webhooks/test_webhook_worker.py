"""With Redis, the worker runs webhook deliveries: the relay puts the outbox
onto arq and a real arq worker fans out and POSTs to the local webhook_receiver."""

from __future__ import annotations

import secrets
import warnings

from tessera.jobs.arq_queue import ArqQueue
from tessera.jobs.worker import create_worker
from tessera.outbox.relay import OutboxRelay
from tessera.scope import BrandScope
from tessera.webhooks import service
from tessera.webhooks.models import DeliveryStatus, WebhookDelivery


async def test_a_real_arq_worker_delivers_the_webhook(
    brand_a, new_member, webhook_receiver, tessera_redis_url, tessera_settings, tessera_db
):
    queue_name = f"tessera-test:{secrets.token_hex(6)}"
    queue = await ArqQueue.connect(tessera_redis_url, queue_name=queue_name)
    settings = tessera_settings.model_copy(update={"redis_url": tessera_redis_url})

    async def burst() -> None:
        worker = create_worker(
            settings,
            runtime=tessera_db,
            queue_name=queue_name,
            burst=True,
            poll_delay=0.02,
            handle_signals=False,
        )
        try:
            await worker.async_run()
        finally:
            with warnings.catch_warnings():
                warnings.filterwarnings("ignore", "Call to deprecated close", DeprecationWarning)
                await worker.close()

    try:
        await service.create_subscription(
            BrandScope(brand_a), webhook_receiver.url, ["member.joined"]
        )
        await new_member(brand_a, name="Ann", identities=[("app_user_id", "ann")])
        relay = OutboxRelay(arq=queue)
        # The fan-out, then the attempt it queued, each relayed onto arq and run
        # by the worker.
        for _ in range(2):
            assert await relay.relay_once() >= 1
            await burst()
    finally:
        await queue.pool.delete(queue_name)
        await queue.close()

    [got] = webhook_receiver.received
    delivery = await WebhookDelivery.get(brand_id=brand_a.id)
    assert got.headers["tessera-webhook-id"] == str(delivery.delivery_id)
    assert (delivery.status, delivery.attempts) == (DeliveryStatus.DELIVERED, 1)
