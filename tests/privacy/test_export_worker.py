"""With Redis, a real arq worker builds the export the outbox relays to it."""

from __future__ import annotations

import secrets
import warnings

from tessera.jobs.arq_queue import ArqQueue
from tessera.jobs.worker import create_worker
from tessera.members.service import create_member
from tessera.outbox.relay import OutboxRelay
from tessera.privacy import exports
from tessera.privacy.models import MemberExport
from tessera.scope import BrandScope


async def test_a_real_arq_worker_builds_the_export(
    brand_a, tessera_redis_url, tessera_settings, tessera_db
):
    scope = BrandScope(brand_a)
    member = await create_member(scope, {"name": "Ann", "phone": "+8613812340000"})
    queue_name = f"tessera-test:{secrets.token_hex(6)}"
    queue = await ArqQueue.connect(tessera_redis_url, queue_name=queue_name)
    settings = tessera_settings.model_copy(update={"redis_url": tessera_redis_url})
    worker = create_worker(
        settings,
        runtime=tessera_db,
        queue_name=queue_name,
        burst=True,
        poll_delay=0.02,
        handle_signals=False,
    )
    try:
        export = await exports.request_export(scope, member.id)
        assert await OutboxRelay(arq=queue).relay_once() >= 1
        await worker.async_run()
    finally:
        with warnings.catch_warnings():
            warnings.filterwarnings("ignore", "Call to deprecated close", DeprecationWarning)
            await worker.close()
        await queue.pool.delete(queue_name)
        await queue.close()

    built = await scope.query(MemberExport).get(id=export.id)
    assert built.status == "ready"
    document = await exports.download(exports.download_path(built).rsplit("/", 1)[1])
    assert document["member"]["phone"] == "+8613812340000"
