"""`make screenshots`: pictures of the admin UI's pages for docs/admin.md.

Starts Tessera on a temporary SQLite database holding the `tessera demo` data,
signs in as the demo owner in Debian's Chromium (Playwright, offline), and
captures every page of the page registry that needs no id in its path, plus
a member's profile and a plugin's settings, in English, and the dashboard in
Chinese, into docs/admin/*.png. Then it rewrites the "Screenshots" section of
docs/admin.md. The pages come from the registry, so a new page appears the
next time this runs.

Run it as ``.venv/bin/python -P docs/tools/screenshots.py`` (the -P matters:
the project root holds a folder called platform/)."""

from __future__ import annotations

import asyncio
import os
import re
import secrets
import socket
import sqlite3
import subprocess
import sys
import tempfile
import time
import urllib.request
from dataclasses import dataclass
from pathlib import Path
from urllib.parse import urlsplit

from playwright.async_api import Browser, Page, Route, async_playwright

ROOT = Path(__file__).resolve().parents[2]
OUT = ROOT / "docs" / "admin"
DOC = ROOT / "docs" / "admin.md"
BIN = Path(sys.executable).parent
CHROMIUM = Path(os.environ.get("TESSERA_CHROMIUM", "/usr/bin/chromium"))
CHROMIUM_ARGS = ["--headless", "--no-sandbox", "--disable-gpu", "--no-first-run"]
VIEWPORT = {"width": 1280, "height": 800}
BRAND = "demo"
DEMO_MEMBERS = "200"
PLUGIN = "points.purchase"  # switched on with settings by the demo
SECTION = "## Screenshots"
PLACEHOLDER = "Screenshots of the pages come in a later step.\n"


@dataclass(frozen=True)
class Shot:
    name: str  # the file's name, without .png
    title: str  # what docs/admin.md calls it
    path: str  # under /admin/brands/{brand}
    locale: str = "en"


FILLED_TITLES = {
    "member": "A member's profile",
    "member_edit": "Editing a member's profile",
    "plugin": "A plugin's settings",
}


def _untitled(name: str) -> str:
    """A caption for a page outside the menu, from its name (``tier_new``:
    "New tier")."""
    words = name.replace("_", " ")
    return f"New {words.removesuffix(' new')}" if name.endswith("_new") else words.capitalize()


def _pages(member_id: int) -> list[Shot]:
    """Every GET page of the registry whose path has no id, then the two
    with one the demo can fill."""
    from tessera.admin_ui import routes
    from tessera.admin_ui.registry import PAGES

    routes()  # imports PAGE_MODULES, which register the pages
    ids = {"member_id": str(member_id), "key": PLUGIN}
    shots, filled = [], []
    for page in PAGES:
        if "GET" not in page.methods:
            continue
        params = re.findall(r"{(\w+)(?::\w+)?}", page.path)
        if not params:
            shots.append(Shot(page.name, page.title or _untitled(page.name), page.path))
        elif set(params) <= set(ids) and page.name not in {s.name for s in filled}:
            path = page.path
            for name in params:
                path = re.sub(rf"{{{name}(?::\w+)?}}", ids[name], path)
            title = FILLED_TITLES.get(page.name) or _untitled(page.name)
            filled.append(Shot(page.name, title, path))
    return [*shots, *filled, Shot("dashboard-zh", "Dashboard in Chinese", "/", "zh-CN")]


def _free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


def _run(env: dict[str, str], *args: str) -> None:
    subprocess.run([str(BIN / "tessera"), *args], env=env, check=True, stdout=subprocess.DEVNULL)


def _busiest_member(database: Path) -> int:
    """The demo member with the most orders: the fullest profile. The
    temporary database is this script's own, so it is read directly."""
    with sqlite3.connect(database) as db:
        row = db.execute(
            "SELECT o.member_id FROM sales_order o JOIN brand b ON b.id = o.brand_id "
            "WHERE b.code = ? GROUP BY o.member_id ORDER BY COUNT(*) DESC, o.member_id LIMIT 1",
            (BRAND,),
        ).fetchone()
    return int(row[0])


def _wait_until_up(url: str, process: subprocess.Popen[bytes]) -> None:
    for _ in range(300):
        if process.poll() is not None:
            raise SystemExit("the server stopped while starting")
        try:
            with urllib.request.urlopen(url + "/admin/login", timeout=2):
                return
        except OSError:
            time.sleep(0.2)
    raise SystemExit("the server did not start")


async def _offline(route: Route) -> None:
    if urlsplit(route.request.url).hostname in ("127.0.0.1", "localhost"):
        await route.continue_()
    else:
        await route.abort("internetdisconnected")


async def _signed_in(browser: Browser, url: str, locale: str, password: str) -> Page:
    context = await browser.new_context(base_url=url, viewport=VIEWPORT, locale=locale)
    page = await context.new_page()
    await page.route("**/*", _offline)
    await page.goto("/admin/login")
    await page.locator("input[name=email]").fill("admin@demo.example")
    await page.locator("input[name=password]").fill(password)
    await page.locator("main form button[type=submit]").click()
    await page.wait_for_url(re.compile(r".*/admin/brands/.*"))
    return page


async def _capture(url: str, shots: list[Shot], password: str) -> None:
    async with async_playwright() as playwright:
        browser = await playwright.chromium.launch(
            executable_path=str(CHROMIUM), args=CHROMIUM_ARGS, headless=True
        )
        pages: dict[str, Page] = {}
        for shot in shots:
            if shot.locale not in pages:
                pages[shot.locale] = await _signed_in(browser, url, shot.locale, password)
            page = pages[shot.locale]
            response = await page.goto(f"/admin/brands/{BRAND}{shot.path}")
            status = response.status if response else 0
            if status != 200:
                raise SystemExit(f"{shot.path} answered {status}")
            await page.screenshot(path=str(OUT / f"{shot.name}.png"))
            print(f"docs/admin/{shot.name}.png  {shot.path}", file=sys.stderr)
        await browser.close()


def _write_section(shots: list[Shot]) -> None:
    lines = [
        SECTION,
        "",
        "Taken by `make screenshots` on the `tessera demo` data, in `/usr/bin/chromium`",
        "with a Chinese font (`apt-get install -y chromium fonts-wqy-microhei`). Run it",
        "again after adding a page: it finds the pages in the page registry.",
        "",
        "![The dashboard](admin/dashboard.png)",
        "",
        *(f"- [{shot.title}](admin/{shot.name}.png)" for shot in shots),
        "",
        "",
    ]
    text = DOC.read_text()
    section = "\n".join(lines)
    if SECTION in text:
        start = text.index(SECTION)
        end = text.find("\n## ", start + len(SECTION))
        text = text[:start] + section + (text[end + 1 :] if end >= 0 else "")
    elif PLACEHOLDER in text:
        text = text.replace(PLACEHOLDER, section)
    else:
        first = text.index("\n## ")
        text = text[: first + 1] + section + text[first + 1 :]
    DOC.write_text(text.rstrip("\n") + "\n")


def main() -> None:
    if not CHROMIUM.exists():
        raise SystemExit(f"{CHROMIUM} is missing: `apt-get install -y chromium`")
    if not subprocess.run(["fc-list", ":lang=zh"], capture_output=True, text=True).stdout:
        print(
            "warning: no Chinese font, the Chinese page shows boxes: "
            "`apt-get install -y fonts-wqy-microhei`",
            file=sys.stderr,
        )
    with tempfile.TemporaryDirectory(prefix="tessera-shots-") as tmp:
        database = Path(tmp) / "tessera.sqlite3"
        port = _free_port()
        env = {k: v for k, v in os.environ.items() if not k.startswith("TESSERA_")}
        env.update(
            TESSERA_DATABASE_URL=f"sqlite://{database}",
            TESSERA_VAR_DIR=str(Path(tmp) / "var"),
            TESSERA_SECRET_KEY=secrets.token_urlsafe(32),
            TESSERA_ENVIRONMENT="development",
            TESSERA_LOG_JSON="false",
            TESSERA_HOST="127.0.0.1",
            TESSERA_PORT=str(port),
        )
        _run(env, "migrate")
        _run(env, "demo", "--members", DEMO_MEMBERS)
        password = (Path(tmp) / "var" / "demo_admin_password").read_text().strip()
        shots = _pages(_busiest_member(database))
        server = subprocess.Popen(
            [str(BIN / "tessera"), "serve"], env=env, stderr=subprocess.DEVNULL
        )
        try:
            url = f"http://127.0.0.1:{port}"
            _wait_until_up(url, server)
            OUT.mkdir(parents=True, exist_ok=True)
            for old in OUT.glob("*.png"):
                old.unlink()
            asyncio.run(_capture(url, shots, password))
        finally:
            server.terminate()
            server.wait(timeout=30)
    _write_section(shots)


if __name__ == "__main__":
    main()
