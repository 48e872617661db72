"""The `tessera` command and a real uvicorn server as child processes.

Tortoise's connections are process-wide, so whatever needs a database other
than the session's (CLI commands, a server pointed at a dead database) runs in
a process of its own.
"""

from __future__ import annotations

import os
import socket
import subprocess
import sys
import time
from collections.abc import Awaitable, Callable, Iterator
from contextlib import contextmanager
from pathlib import Path

import httpx

from tessera.testing import _create_postgres_database

TESSERA = Path(sys.executable).with_name("tessera")
UNREACHABLE_POSTGRES = "postgresql://postgres@127.0.0.1:9/nothing"


async def fresh_database(folder: Path) -> tuple[str, Callable[[], Awaitable[None]] | None]:
    """An empty database on the suite's backend and how to drop it (None for SQLite)."""
    server = os.environ.get("TESSERA_TEST_DATABASE_URL", "")
    if server and not server.startswith("sqlite"):
        return await _create_postgres_database(server)
    folder.mkdir(parents=True, exist_ok=True)
    return f"sqlite://{folder / 'tessera.sqlite3'}", None


def cli_env(database_url: str, var_dir: Path, **extra: str) -> dict[str, str]:
    """The environment of a child process: this one's, minus any TESSERA_ setting."""
    env = {k: v for k, v in os.environ.items() if not k.startswith("TESSERA_")}
    env.update(
        TESSERA_DATABASE_URL=database_url,
        TESSERA_VAR_DIR=str(var_dir),
        TESSERA_ENVIRONMENT="test",
        TESSERA_LOG_JSON="true",
    )
    env.update(extra)
    return env


def tessera(*args: str, env: dict[str, str], cwd: Path) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [str(TESSERA), *args], env=env, cwd=cwd, capture_output=True, text=True, timeout=120
    )


def _free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        port: int = sock.getsockname()[1]
        return port


@contextmanager
def served(env: dict[str, str], cwd: Path) -> Iterator[str]:
    """`tessera serve` on a free port; yields its base URL once /healthz answers."""
    port = _free_port()
    log_path = cwd / f"serve-{port}.log"
    with log_path.open("w") as log:
        proc = subprocess.Popen(
            [str(TESSERA), "serve", "--port", str(port)],
            env=env,
            cwd=cwd,
            stdout=log,
            stderr=subprocess.STDOUT,
        )
    base = f"http://127.0.0.1:{port}"
    try:
        deadline = time.monotonic() + 30
        while True:
            if proc.poll() is not None:
                raise AssertionError(f"tessera serve exited:\n{log_path.read_text()}")
            try:
                httpx.get(f"{base}/healthz", timeout=1)
                break
            except httpx.TransportError:
                if time.monotonic() > deadline:
                    raise
                time.sleep(0.1)
        yield base
    finally:
        proc.terminate()
        proc.wait(timeout=15)
