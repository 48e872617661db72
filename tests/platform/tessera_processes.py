"""The `tessera` command and a real uvicorn server as child processes.

Tortoise's connections are process-wide, so whatever needs a database other
than the session's (CLI commands, a server pointed at a dead database) runs in
a process of its own.
"""

from __future__ import annotations

import json
import os
import signal
import socket
import subprocess
import sys
import time
from collections.abc import Awaitable, Callable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import httpx

from tessera.testing import TEST_SECRET_KEY, _create_postgres_database

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
        TESSERA_SECRET_KEY=TEST_SECRET_KEY,
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


@dataclass
class Child:
    """A `tessera` process of this test's, its output (stdout and stderr) in a file."""

    name: str
    proc: subprocess.Popen[bytes]
    log_path: Path
    base: str = ""  # a server's URL

    def log_lines(self) -> list[dict[str, Any]]:
        """Its JSON log lines so far (anything else it wrote is left out)."""
        text = self.log_path.read_text(errors="replace")
        return [json.loads(line) for line in text.splitlines() if line.startswith("{")]

    def kill(self) -> None:
        """SIGKILL: no clean-up, no goodbye, as when a machine dies."""
        os.kill(self.proc.pid, signal.SIGKILL)
        self.proc.wait(timeout=15)

    def stop(self) -> None:
        if self.proc.poll() is None:
            self.proc.terminate()
            try:
                self.proc.wait(timeout=15)
            except subprocess.TimeoutExpired:
                self.kill()


def spawn(name: str, *args: str, env: dict[str, str], cwd: Path) -> Child:
    log_path = cwd / f"{name}.log"
    with log_path.open("w") as log:
        proc = subprocess.Popen(
            [str(TESSERA), *args], env=env, cwd=cwd, stdout=log, stderr=subprocess.STDOUT
        )
    return Child(name, proc, log_path)


def start_server(env: dict[str, str], cwd: Path, *args: str, name: str = "") -> Child:
    """`tessera serve` on a free port (``args``: more options, e.g. ``--workers``);
    returns at once, see :func:`wait_until_up`."""
    port = _free_port()
    child = spawn(name or f"serve-{port}", "serve", "--port", str(port), *args, env=env, cwd=cwd)
    child.base = f"http://127.0.0.1:{port}"
    return child


def wait_until_up(server: Child, path: str = "/healthz", timeout: float = 30) -> None:
    """Polls ``path`` until it answers 200 (a bounded loop); fails if the process ends."""
    deadline = time.monotonic() + timeout
    while True:
        if server.proc.poll() is not None:
            raise AssertionError(f"{server.name} exited:\n{server.log_path.read_text()}")
        try:
            if httpx.get(f"{server.base}{path}", timeout=1).status_code == 200:
                return
        except httpx.TransportError:
            pass
        if time.monotonic() > deadline:
            raise AssertionError(f"{server.name}: {path} not 200 within {timeout} s")
        time.sleep(0.1)


@contextmanager
def served(env: dict[str, str], cwd: Path, *args: str) -> Iterator[str]:
    """`tessera serve` on a free port; yields its base URL once /healthz answers."""
    server = start_server(env, cwd, *args)
    try:
        wait_until_up(server)
        yield server.base
    finally:
        server.stop()
