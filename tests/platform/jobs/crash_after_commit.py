"""A process that commits a change and is killed (SIGKILL) right after the
commit, before its follow-up work is relayed: the moment a queue without an
outbox loses work. Usage: ``python -P crash_after_commit.py BRAND_ID`` with
TESSERA_DATABASE_URL set."""

from __future__ import annotations

import asyncio
import os
import signal
import sys

from tessera import bootstrap
from tessera.config import Settings
from tessera.members.service import create_member
from tessera.scope import BrandScope
from tessera.tenancy.models import Brand


async def main(brand_id: int) -> None:
    rt = await bootstrap.start(Settings())
    # The unit of work calls this once its transaction has committed.
    rt.outbox.notify = lambda: os.kill(os.getpid(), signal.SIGKILL)  # type: ignore[method-assign]
    scope = BrandScope(await Brand.get(id=brand_id))
    member = await create_member(scope, {"name": "Crash"}, identities=[("app_user_id", "crash")])
    print(f"not killed after committing member {member.id}", flush=True)


if __name__ == "__main__":
    asyncio.run(main(int(sys.argv[1])))
