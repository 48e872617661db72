"""Webhook delivery throughput on PostgreSQL, beside plain httpx posts.

``BENCH_WEBHOOKS`` events (default 1,000) of one brand, committed in one
unit of work, are delivered by the in-process outbox relay (its default
concurrency, ``TESSERA_OUTBOX_CONCURRENCY`` = 4) to a receiver in another
process (uvicorn, answering 200): fan-out, signing, the POST, and recording
each attempt with its outbox bookkeeping. The baseline POSTs the same bodies
to the same receiver with one httpx client and the same concurrency, and
records nothing. The ratio is Tessera's time per delivery over the
baseline's.

Run by ``make bench`` (not in CI); ``make bench BENCHES=webhooks`` alone.
"""

from __future__ import annotations

import asyncio
import os
import socket
import subprocess
import sys
import tempfile
import time
from pathlib import Path

import httpx

sys.path.insert(0, str(Path(__file__).resolve().parent))

from harness import Figure, Report, bench_database

from tessera import bootstrap, runtime
from tessera.config import Environment, Settings
from tessera.scope import BrandScope
from tessera.tenancy.service import create_brand, create_tenant
from tessera.uow import unit_of_work
from tessera.webhooks import service
from tessera.webhooks.delivery import encode
from tessera.webhooks.models import DeliveryStatus, WebhookDelivery

EVENTS = int(os.environ.get("BENCH_WEBHOOKS", "1000"))

RECEIVER_APP = """
async def app(scope, receive, send):
    if scope["type"] != "http":
        return
    while (await receive()).get("more_body"):
        pass
    await send({"type": "http.response.start", "status": 200, "headers": []})
    await send({"type": "http.response.body", "body": b"ok"})
"""


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


async def start_receiver(folder: Path) -> tuple[subprocess.Popen[bytes], str]:
    (folder / "bench_receiver.py").write_text(RECEIVER_APP)
    port = free_port()
    process = subprocess.Popen(
        [
            sys.executable,
            "-m",
            "uvicorn",
            "bench_receiver:app",
            "--port",
            str(port),
            "--log-level",
            "warning",
            "--no-access-log",
        ],
        cwd=folder,
    )
    url = f"http://127.0.0.1:{port}/hook"
    async with httpx.AsyncClient() as client:
        for _ in range(100):
            try:
                await client.post(url, content=b"{}")
                return process, url
            except httpx.TransportError:
                await asyncio.sleep(0.1)
    raise RuntimeError("the receiver did not start")


async def baseline(url: str, bodies: list[bytes], concurrency: int) -> float:
    queue = iter(bodies)
    async with httpx.AsyncClient(timeout=10) as client:

        async def worker() -> None:
            for body in queue:
                response = await client.post(
                    url, content=body, headers={"content-type": "application/json"}
                )
                response.raise_for_status()

        started = time.perf_counter()
        await asyncio.gather(*(worker() for _ in range(concurrency)))
        return time.perf_counter() - started


async def main() -> int:
    with tempfile.TemporaryDirectory() as tmp:
        receiver, url = await start_receiver(Path(tmp))
        try:
            async with bench_database() as database_url:
                settings = Settings(
                    environment=Environment.TEST,
                    database_url=database_url,
                    secret_key="bench-secret-key-that-is-long-enough-0123456789",  # type: ignore[arg-type]
                    var_dir=Path(tmp),
                    log_json=False,
                    webhook_allow_private_networks=True,
                )
                rt = await bootstrap.start(settings)
                try:
                    return await measure(url)
                finally:
                    await bootstrap.stop(rt)
        finally:
            receiver.terminate()
            receiver.wait()


async def measure(url: str) -> int:
    tenant = await create_tenant("bench", "Bench")
    scope = BrandScope(await create_brand(tenant.code, "bench", "Bench"))
    await service.create_subscription(scope, url, ["*"])
    async with unit_of_work(scope) as uow:
        for i in range(EVENTS):
            uow.emit("order.recorded", order_id=i, member_id=i % 100, amount_paid=1000)
    relay = runtime.current().outbox
    started = time.perf_counter()
    await relay.drain()
    tessera_s = time.perf_counter() - started
    delivered = await scope.query(WebhookDelivery).filter(status=DeliveryStatus.DELIVERED).count()
    assert delivered == EVENTS, f"{delivered} of {EVENTS} delivered"

    bodies = [encode(row.payload) for row in await scope.query(WebhookDelivery).order_by("id")]
    baseline_s = await baseline(url, bodies, runtime.current().settings.outbox_concurrency)
    concurrency = runtime.current().settings.outbox_concurrency
    report = Report("webhooks", {"events": EVENTS, "concurrency": concurrency})
    report.table(
        f"webhook deliveries to a local receiver, {EVENTS} events (time per delivery)",
        [
            Figure(
                "deliver (fan-out, sign, POST, record)",
                tessera_s / EVENTS,
                baseline_s / EVENTS,
                "plain httpx POST of the same body",
            )
        ],
    )
    print(
        f"throughput: {EVENTS / tessera_s:.0f} deliveries/s (baseline {EVENTS / baseline_s:.0f}/s)"
    )
    report.save()
    return 0


if __name__ == "__main__":
    sys.exit(asyncio.run(main()))
