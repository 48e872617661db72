"""A relay killed (SIGKILL) right after a webhook POST and before recording
its answer: the moment at-least-once delivery redelivers. Usage:
``python -P crash_after_send.py`` with TESSERA_DATABASE_URL set."""

from __future__ import annotations

import asyncio
import os
import signal
from typing import Any

from tessera import bootstrap
from tessera.config import Settings
from tessera.webhooks import delivery


async def main() -> None:
    rt = await bootstrap.start(Settings())

    async def killed(*args: Any, **kwargs: Any) -> str:
        os.kill(os.getpid(), signal.SIGKILL)
        raise AssertionError("not killed")

    delivery._record = killed  # type: ignore[assignment]
    await rt.outbox.drain()
    print("not killed: nothing was sent", flush=True)


if __name__ == "__main__":
    asyncio.run(main())
