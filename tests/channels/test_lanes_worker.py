"""With Redis, transactional messages have their own arq queue: a real arq
worker on the lane sends them while a bulk of marketing messages still waits
on the main queue, and the ordinary worker reads both."""

from __future__ import annotations

import secrets
import warnings
from typing import Any

from tessera.channels import gate, service
from tessera.channels.models import Channel, Message, MessageStatus, Purpose
from tessera.jobs.arq_queue import ArqQueue
from tessera.jobs.worker import create_worker
from tessera.outbox.relay import OutboxRelay
from tessera.outbox.store import lane_queue
from tessera.scope import BrandScope


async def _burst(settings: Any, runtime: Any, queue_name: str, *, lane: bool) -> None:
    worker = create_worker(
        settings,
        runtime=runtime,
        lane=lane,
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


async def test_transactional_messages_pass_the_bulk_on_their_own_queue(
    brand_a: Any,
    enable_feature: Any,
    new_member: Any,
    smtp_server: Any,
    tessera_redis_url: str,
    tessera_settings: Any,
    tessera_db: Any,
) -> None:
    scope = BrandScope(brand_a)
    await enable_feature(brand_a, "email_smtp", config=smtp_server.config())
    template = await service.create_template(
        scope, name="t", channel=Channel.EMAIL, subject="s", body="Hi {{ member.name }}"
    )
    bulk = []
    for i in range(5):
        member = await new_member(brand_a, name=f"m{i}", email=f"m{i}@example.com")
        await service.set_consent(scope, member.pk, Channel.EMAIL, Purpose.MARKETING, True, "test")
        bulk.append(
            await gate.send(
                scope, gate.SendRequest(member.pk, template.id, Purpose.MARKETING, "campaign")
            )
        )
    urgent_member = await new_member(brand_a, name="urgent", email="urgent@example.com")
    urgent = await gate.send(
        scope, gate.SendRequest(urgent_member.pk, template.id, Purpose.TRANSACTIONAL, "api")
    )

    queue_name = f"tessera-test:{secrets.token_hex(6)}"
    queue = await ArqQueue.connect(tessera_redis_url, queue_name=queue_name)
    settings = tessera_settings.model_copy(update={"redis_url": tessera_redis_url})
    try:
        # (Member creation left segment work in the outbox too: it goes to the main queue.)
        assert await OutboxRelay(arq=queue).relay_once() >= 6
        assert await queue.pool.zcard(queue_name) >= 5
        assert await queue.pool.zcard(lane_queue(queue_name)) == 1
        # A worker on the lane alone: the transactional message goes, the bulk waits.
        await _burst(settings, tessera_db, lane_queue(queue_name), lane=False)
        assert (await scope.get(Message, urgent.id)).status is MessageStatus.SENT
        assert [m["To"] for m in smtp_server.messages] == ["urgent@example.com"]
        assert await scope.query(Message).filter(status=MessageStatus.QUEUED).count() == 5
        # The ordinary worker (main queue and its lane) sends the rest.
        await _burst(settings, tessera_db, queue_name, lane=True)
    finally:
        await queue.pool.delete(queue_name, lane_queue(queue_name))
        await queue.close()
    assert await scope.query(Message).filter(status=MessageStatus.SENT).count() == 6
    assert len(smtp_server.messages) == 6
