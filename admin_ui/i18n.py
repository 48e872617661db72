"""Languages: Simplified Chinese and English from gettext catalogs, chosen from
the user's setting, else ``Accept-Language``; dates, numbers and money by Babel
for the locale, in the brand's time zone and currency.

The ``.po`` files are the committed source and are compiled in memory on first
use, so a fresh clone and an installed wheel work without a build step."""

from __future__ import annotations

import datetime as dt
import gettext
from dataclasses import dataclass
from decimal import Decimal
from functools import lru_cache
from io import BytesIO
from pathlib import Path
from zoneinfo import ZoneInfo

from babel import Locale
from babel.dates import format_date, format_datetime
from babel.messages.mofile import write_mo
from babel.messages.pofile import read_po
from babel.numbers import format_currency, format_decimal

from tessera.orders.money import from_minor

LOCALE_DIR = Path(__file__).parent / "locale"
DEFAULT_LOCALE = "en"
# Locale code -> its own name, for the language switcher.
LOCALES = {"en": "English", "zh_Hans": "简体中文"}


@lru_cache
def translations(locale: str) -> gettext.NullTranslations:
    path = LOCALE_DIR / locale / "LC_MESSAGES" / "messages.po"
    if not path.exists():
        return gettext.NullTranslations()
    with path.open("rb") as po:
        catalog = read_po(po, locale=locale)
    compiled = BytesIO()
    write_mo(compiled, catalog)
    compiled.seek(0)
    return gettext.GNUTranslations(compiled)


def negotiate(setting: str | None, accept_language: str) -> str:
    """The user's own setting when it is one we have, else the best match of
    the browser's ``Accept-Language`` (any Chinese gets Simplified Chinese)."""
    if setting in LOCALES:
        return setting
    wanted: list[tuple[float, int, str]] = []
    for position, part in enumerate(accept_language.split(",")):
        tag, _, params = part.strip().partition(";")
        quality = 1.0
        if params.strip().startswith("q="):
            try:
                quality = float(params.strip()[2:])
            except ValueError:
                quality = 0.0
        if tag and quality > 0:
            wanted.append((-quality, position, tag.strip().lower()))
    for _, _, tag in sorted(wanted):
        language = tag.split("-")[0]
        if language == "zh":
            return "zh_Hans"
        if language == "en":
            return "en"
    return DEFAULT_LOCALE


@dataclass(frozen=True)
class Formatter:
    """Formats values for one locale in one brand's time zone and currency."""

    locale: str
    timezone: str
    currency: str

    @property
    def babel_locale(self) -> Locale:
        return Locale.parse(self.locale)

    def datetime(self, value: dt.datetime | None) -> str:
        if value is None:
            return ""
        return format_datetime(
            value, "medium", tzinfo=ZoneInfo(self.timezone), locale=self.babel_locale
        )

    def date(self, value: dt.datetime | dt.date | None) -> str:
        """A day; a moment is shown as its day in the brand's time zone."""
        if value is None:
            return ""
        if isinstance(value, dt.datetime):
            value = value.astimezone(ZoneInfo(self.timezone)).date()
        return format_date(value, "medium", locale=self.babel_locale)

    def number(self, value: int | Decimal) -> str:
        return format_decimal(value, locale=self.babel_locale)

    def money(self, minor: int, currency: str | None = None) -> str:
        """An amount in minor units of the brand's currency (or ``currency``:
        another brand's, on tenant-wide pages)."""
        code = currency or self.currency
        return format_currency(from_minor(minor, code), code, locale=self.babel_locale)


def N_(message: str) -> str:
    """Marks ``message`` for the catalog; it is translated where it is shown."""
    return message


# Stored values the pages show through the catalog (roles, statuses, sources,
# ledger kinds and entry types, audit outcomes), listed so extraction finds them.
VALUE_LABELS = (
    N_("owner"),
    N_("operator"),
    N_("analyst"),
    N_("viewer"),
    N_("active"),
    N_("prospect"),
    N_("frozen"),
    N_("cancelled"),
    N_("manual"),
    N_("rule"),
    N_("plugin"),
    N_("import"),
    N_("points"),
    N_("stored_value"),
    N_("growth"),
    N_("earn"),
    N_("redeem"),
    N_("adjust"),
    N_("expire"),
    N_("refund"),
    N_("reverse"),
    N_("available"),
    N_("redeemed"),
    N_("voided"),
    N_("expired"),
    N_("held"),
    N_("ok"),
    N_("rejected"),
    N_("forbidden"),
    N_("failed"),
    N_("tier_policy"),
    N_("points_rule"),
    N_("channel_sender"),
    N_("slot_kind"),
    N_("report_type"),
)
