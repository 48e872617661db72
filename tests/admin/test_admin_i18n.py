"""Languages: Chinese or English from the user's setting, else the browser's;
dates and money for the locale in the brand's time zone and currency."""

from __future__ import annotations

import tomllib
from datetime import UTC, datetime
from fnmatch import fnmatch
from pathlib import Path

from babel.messages.extract import extract_from_dir

from tessera.admin_ui.i18n import Formatter, negotiate, translations
from tessera.auth.models import AdminUser

ADMIN_UI = Path(__file__).resolve().parents[2] / "admin_ui"


async def test_the_browser_language_chooses_chinese_or_english(http):
    chinese = await http.get("/admin/login", headers={"Accept-Language": "zh-CN,zh;q=0.9,en;q=0.8"})
    assert "<h1>登录</h1>" in chinese.text and 'lang="zh-Hans"' in chinese.text
    english = await http.get("/admin/login", headers={"Accept-Language": "en-GB,en;q=0.9"})
    assert "<h1>Sign in</h1>" in english.text
    other = await http.get("/admin/login", headers={"Accept-Language": "fr-FR"})
    assert "<h1>Sign in</h1>" in other.text


def test_negotiation_follows_quality_then_order():
    assert negotiate(None, "en;q=0.5, zh-TW;q=0.8") == "zh_Hans"
    assert negotiate(None, "zh;q=0, en") == "en"
    assert negotiate("zh_Hans", "en") == "zh_Hans"
    assert negotiate("xx", "") == "en"


async def test_the_users_setting_wins_over_the_browser(admin_client, brand_a):
    client = await admin_client(brand_a, "operator")
    chosen = await client.post(
        "/admin/locale", {"locale": "zh_Hans", "next": "/admin/brands/brand-a/members"}
    )
    assert chosen.headers["location"] == "/admin/brands/brand-a/members"
    assert (await AdminUser.get(id=client.user.id)).locale == "zh_Hans"
    page = await client.get("/admin/brands/brand-a/members", headers={"Accept-Language": "en"})
    assert "<h1>会员</h1>" in page.text and "运营" in page.text  # the title and the role
    assert (await client.post("/admin/locale", {"locale": "en"})).status_code == 303
    page = await client.get("/admin/brands/brand-a/members", headers={"Accept-Language": "zh-CN"})
    assert "<h1>Members</h1>" in page.text


def test_dates_and_money_follow_the_locale_the_brands_zone_and_currency():
    moment = datetime(2026, 3, 1, 17, 30, tzinfo=UTC)
    shanghai_zh = Formatter("zh_Hans", "Asia/Shanghai", "CNY")
    assert shanghai_zh.money(123450) == "¥1,234.50"
    assert shanghai_zh.datetime(moment) == "2026年3月2日 01:30:00"  # the next day in Shanghai
    new_york_en = Formatter("en", "America/New_York", "USD")
    assert new_york_en.money(123450) == "$1,234.50"
    assert new_york_en.datetime(moment) == "Mar 1, 2026, 12:30:00\u202fPM"
    assert Formatter("en", "Asia/Tokyo", "JPY").money(1200) == "¥1,200"
    assert new_york_en.number(1234567) == "1,234,567"


def test_every_text_of_the_pages_has_a_chinese_translation():
    zh = translations("zh_Hans")
    extracted = {
        message
        for _, _, message, _, _ in extract_from_dir(
            str(ADMIN_UI),
            method_map=[("**.py", "python"), ("templates/**.html", "jinja2")],
            keywords={"_": None, "gettext": None, "N_": None},
        )
    }
    assert len(extracted) > 100
    untranslated = sorted(m for m in extracted if zh.gettext(m) == m)
    assert not untranslated, "run `make messages` and translate: " + ", ".join(untranslated)


def test_the_package_data_ships_every_file_of_the_admin_ui():
    config = tomllib.loads((ADMIN_UI.parent / "pyproject.toml").read_text())
    patterns = config["tool"]["setuptools"]["package-data"]["tessera.admin_ui"]
    files = [
        p.relative_to(ADMIN_UI).as_posix()
        for p in ADMIN_UI.rglob("*")
        if p.is_file()
        and p.suffix != ".py"
        and "__pycache__" not in p.parts
        and p.name != "babel.cfg"
    ]
    assert any(f.endswith(".po") for f in files) and "static/htmx.min.js" in files
    unshipped = [f for f in files if not any(fnmatch(f, pattern) for pattern in patterns)]
    assert not unshipped
