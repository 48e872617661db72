"""Browser tests: the real app under uvicorn, driven by Debian's Chromium
through Playwright (DESIGN.md, Tests). Playwright's own browser download
cannot work on these machines, so the system Chromium is launched; with it
missing the tests fail (never skip) with the line that installs it.

- ``live_server``: the app in its own uvicorn process, on the test database,
  at a free port; its ``url`` is the base address.
- ``browser_page``: a Playwright page in which every request that does not go
  to the local server is aborted (and recorded in ``page.blocked``), so a
  page that needs the internet fails its test.
"""

from __future__ import annotations

import os
import socket
import subprocess
import sys
from collections.abc import AsyncIterator, Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any
from urllib.parse import urlsplit

import pytest
import pytest_asyncio
from playwright.async_api import Browser, Page, Route, async_playwright

from tessera.config import Settings

CHROMIUM = Path(os.environ.get("TESSERA_CHROMIUM", "/usr/bin/chromium"))
CHROMIUM_ARGS = [
    "--headless",
    "--no-sandbox",
    "--disable-gpu",
    "--disable-quic",
    "--no-first-run",
    "--disable-background-networking",
    "--disable-component-update",
    "--disable-sync",
]
LOCAL_HOSTS = frozenset({"127.0.0.1", "localhost"})


@dataclass(frozen=True)
class LiveServer:
    url: str
    process: subprocess.Popen[bytes]


@pytest_asyncio.fixture(scope="session")
async def browser() -> AsyncIterator[Browser]:
    """The system Chromium, headless, once per session. Playwright's async API
    runs on the suite's event loop (its sync API would hold a loop of its own
    running, which pytest-asyncio's session loop cannot share a thread with)."""
    if not CHROMIUM.exists():
        pytest.fail(
            f"{CHROMIUM} is missing: `apt-get install -y chromium` "
            "(or set TESSERA_CHROMIUM to a Chromium binary)",
            pytrace=False,
        )
    async with async_playwright() as playwright:
        chromium = await playwright.chromium.launch(
            executable_path=str(CHROMIUM), args=CHROMIUM_ARGS, headless=True
        )
        yield chromium
        await chromium.close()


@pytest.fixture(scope="session")
def live_server(tessera_settings: Settings, tessera_runtime: Any) -> Iterator[LiveServer]:
    """uvicorn serving ``tessera.app:create_app`` on a socket bound here first,
    so the server accepts connections queued before it finished starting."""
    sock = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
    sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
    sock.bind(("127.0.0.1", 0))
    sock.listen(128)
    port = sock.getsockname()[1]
    env = {
        key: value
        for key, value in os.environ.items()
        if not key.startswith("TESSERA_") or key.startswith("TESSERA_TEST_")
    }
    env.update(
        TESSERA_ENVIRONMENT=tessera_settings.environment.value,
        TESSERA_DATABASE_URL=tessera_settings.database_url,
        TESSERA_SECRET_KEY=tessera_settings.secret(),
        TESSERA_VAR_DIR=str(tessera_settings.var_dir),
        TESSERA_LOG_JSON="false",
    )
    process = subprocess.Popen(
        [
            sys.executable,
            "-P",
            "-m",
            "uvicorn",
            "tessera.app:create_app",
            "--factory",
            "--fd",
            str(sock.fileno()),
            "--log-level",
            "warning",
        ],
        env=env,
        pass_fds=[sock.fileno()],
    )
    try:
        yield LiveServer(url=f"http://127.0.0.1:{port}", process=process)
    finally:
        process.terminate()
        process.wait(timeout=30)
        sock.close()


@pytest_asyncio.fixture
async def browser_page(browser: Browser, live_server: LiveServer) -> AsyncIterator[Page]:
    """A page that can reach only the live server (relative URLs go there):
    anything else is aborted and recorded in ``page.blocked``."""
    blocked: list[str] = []

    async def guard(route: Route) -> None:
        host = urlsplit(route.request.url).hostname or ""
        if host in LOCAL_HOSTS:
            await route.continue_()
        else:
            blocked.append(route.request.url)
            await route.abort("internetdisconnected")

    context = await browser.new_context(base_url=live_server.url)
    page = await context.new_page()
    await page.route("**/*", guard)
    page.blocked = blocked  # type: ignore[attr-defined]
    yield page
    await context.close()
