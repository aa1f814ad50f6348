"""The language of a request, and its translations (Babel catalogues, GNU gettext).

A request's language is the signed-in user's choice (their profile), else the visitor's cookie (the switcher on
every page sets it), else the browser's `Accept-Language`, else the instance default (`COOP_DEFAULT_LANGUAGE`).
Catalogues live in `cooperation/translations/<locale>/LC_MESSAGES/messages.po` and are compiled when first used
(so the `.po` checked in is what runs: nothing to build, nothing to drift). Templates use Jinja2's `i18n` extension
(newstyle gettext: `{{ _("Agreements") }}`); Python uses `gettext`/`ngettext`/`lazy_gettext` from here.
The API stays English; its problem `detail` follows `Accept-Language`.
"""

import io
from collections.abc import Iterator, Mapping
from contextlib import contextmanager
from contextvars import ContextVar
from datetime import date, datetime
from functools import cache
from pathlib import Path
from typing import Any, Literal
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

from babel import Locale, UnknownLocaleError
from babel import dates as babel_dates
from babel import numbers as babel_numbers
from babel.messages.mofile import write_mo
from babel.messages.pofile import read_po
from babel.support import LazyProxy, NullTranslations, Translations

LANGUAGES = ("en", "fr", "vi", "zh_Hans")
NAMES = {"en": "English", "fr": "Français", "vi": "Tiếng Việt", "zh_Hans": "中文（简体）"}
COOKIE = "coop_lang"
CATALOGUES = Path(__file__).parent / "translations"
# Accept-Language tags that name our languages in other ways (zh-CN, zh-Hans-CN, zh-SG are simplified Chinese).
ALIASES = {"zh": "zh_Hans", "zh_CN": "zh_Hans", "zh_SG": "zh_Hans", "zh_Hans_CN": "zh_Hans"}

_current: ContextVar[str] = ContextVar("coop_language", default="en")


def supported(value: str | None) -> str | None:
    """Our language for a tag such as `vi-VN`, `zh-Hans`, `fr-CA` or `en`, or None."""
    if not value:
        return None
    tag = value.strip().replace("-", "_")
    if tag in LANGUAGES:
        return tag
    if tag in ALIASES:
        return ALIASES[tag]
    try:
        locale = Locale.parse(tag)
    except (ValueError, TypeError):
        return None
    if locale.language == "zh":
        return "zh_Hans" if locale.script in (None, "Hans") and locale.territory not in ("TW", "HK", "MO") else None
    return locale.language if locale.language in LANGUAGES else None


def from_accept_language(header: str | None) -> str | None:
    """The best of our languages for an Accept-Language header (by its q-values), or None."""
    if not header:
        return None
    weighted: list[tuple[float, int, str]] = []
    for index, part in enumerate(header.split(",")):
        tag, _, params = part.strip().partition(";")
        quality = 1.0
        if params.strip().startswith("q="):
            try:
                quality = float(params.strip()[2:])
            except ValueError:
                quality = 0.0
        if (language := supported(tag)) is not None and quality > 0:
            weighted.append((-quality, index, language))
    return min(weighted)[2] if weighted else None


def choose(*, user: str | None, cookie: str | None, accept_language: str | None, default: str) -> str:
    return supported(user) or supported(cookie) or from_accept_language(accept_language) or supported(default) or "en"


@cache
def translations(language: str) -> NullTranslations:
    """The compiled catalogue of a language (English is the source language: no catalogue)."""
    path = CATALOGUES / language / "LC_MESSAGES" / "messages.po"
    if language == "en" or not path.exists():
        return NullTranslations()
    with path.open("rb") as handle:
        catalogue = read_po(handle, locale=language)
    compiled = io.BytesIO()
    write_mo(compiled, catalogue)
    compiled.seek(0)
    return Translations(compiled, domain="messages")


def activate(language: str) -> None:
    _current.set(language)


@contextmanager
def using(language: str | None) -> Iterator[str]:
    """Speak another language for a while: an e-mail in its recipient's language, a report in its own."""
    chosen = supported(language) or "en"
    token = _current.set(chosen)
    try:
        yield chosen
    finally:
        _current.reset(token)


def current() -> str:
    return _current.get()


def gettext(message: str, **values: Any) -> str:
    """The message in the request's language, its %(name)s filled in (a literal percent sign is written %%)."""
    return translations(current()).gettext(message) % values


def ngettext(singular: str, plural: str, n: int, **values: Any) -> str:
    text = translations(current()).ngettext(singular, plural, n)
    return text % {"num": n, **values}


# Jinja's newstyle gettext formats the message itself (autoescaping the values): it takes the bare lookups.
def template_gettext(message: str) -> str:
    return translations(current()).gettext(message)


def template_ngettext(singular: str, plural: str, n: int) -> str:
    return translations(current()).ngettext(singular, plural, n)


def template_pgettext(context: str, message: str) -> str:
    return str(translations(current()).pgettext(context, message))  # Babel's stub says object; it is the text


def lazy_gettext(message: str, **values: Any) -> LazyProxy:
    return LazyProxy(gettext, message, **values, enable_cache=False)


def html_lang(language: str) -> str:
    """The BCP 47 tag for `<html lang>`: zh-Hans, vi, fr, en."""
    return language.replace("_", "-")


def N_(message: str) -> str:
    """Marks a message for the catalogues where it is defined; it is translated where it is shown."""
    return message


def NP_(context: str, message: str) -> str:
    """Marks a message said in a context (pgettext) where it is defined; extracted with `-k NP_:1c,2`."""
    return message


def pgettext(context: str, message: str, **values: Any) -> str:
    """A message whose translation depends on what it is said of (French genders: a visit is « accueillie »)."""
    return str(translations(current()).pgettext(context, message)) % values


# ---- Stored values as words ----------------------------------------------------------------------------------------
# Each domain registers the words for the values it stores (statuses, kinds, roles), marked with N_ for the catalogues.
_value_labels: dict[str, str] = {}


def register_labels(labels: Mapping[str, str]) -> None:
    for value, text in labels.items():
        known = _value_labels.setdefault(str(value), text)
        if known != text:
            raise ValueError(f"{value!r} is already called {known!r}, not {text!r}")


def label(value: str | None) -> str:
    """A stored value in the reader's language; a value nobody registered (typed text) is shown as typed."""
    if value is None or value == "":
        return ""
    text = _value_labels.get(str(value))
    return gettext(text) if text is not None else str(value).replace("_", " ").capitalize()


def as_recorded(value: Any) -> Any:
    """A value as a record's history shows it: a registered stored value (on_display) in the reader's language,
    anything else (typed text, a date, a number) as it is."""
    if isinstance(value, str) and value in _value_labels:
        return gettext(_value_labels[value])
    return value


def value_of(word: str, values: tuple[str, ...]) -> str | None:
    """The stored value a person typed as a word, in any of the languages: "đã tặng", "赠送", "offert" → given."""
    typed = word.strip().casefold()
    for value in values:
        if typed == value:
            return value
        text = _value_labels.get(value)
        if text is not None and any(translations(language).gettext(text).casefold() == typed for language in LANGUAGES):
            return value
    return None


# ---- Dates, numbers, countries, by the reader's language ----------------------------------------------------------
# English pages write dates day first (26 November 2025), as the department's partners do; the words stay English.
FORMAT_LOCALES = {"en": "en_GB", "fr": "fr", "vi": "vi", "zh_Hans": "zh_Hans_CN"}


def formatting_locale(language: str | None = None) -> str:
    return FORMAT_LOCALES.get(language or current(), "en_GB")


def format_day(value: date | str | None, style: str = "long", language: str | None = None) -> str:
    if value is None or value == "":
        return "—"
    day = date.fromisoformat(value) if isinstance(value, str) else value
    return babel_dates.format_date(day, style, locale=formatting_locale(language))


def format_days(start: date | None, end: date | None, language: str | None = None) -> str:
    """26–29 Nov 2025 · 2025年11月26日至29日 · 26 – 29 thg 11, 2025."""
    if start is None:
        return "—"
    if end is None or end == start:
        return format_day(start, language=language)
    return babel_dates.format_interval(start, end, "yMMMd", locale=formatting_locale(language))


def format_instant(value: datetime | None, time_zone: str = "UTC", language: str | None = None) -> str:
    """A moment in the reader's time zone: 26 November 2025 21:30 ICT."""
    if value is None:
        return "—"
    try:
        zone = ZoneInfo(time_zone)
    except (ZoneInfoNotFoundError, ValueError):
        zone = ZoneInfo("UTC")
    local = value.astimezone(zone)
    locale = formatting_locale(language)
    clock = babel_dates.format_time(local, "HH:mm", locale=locale)
    return f"{babel_dates.format_date(local.date(), 'long', locale=locale)} {clock} {local.tzname() or ''}".rstrip()


def format_month(first: date, language: str | None = None) -> str:
    """November 2025 · tháng 11 năm 2025 · 2025年11月."""
    return babel_dates.format_skeleton("yMMMM", first, locale=formatting_locale(language))


def weekday_names(language: str | None = None, width: Literal["abbreviated", "wide"] = "abbreviated") -> list[str]:
    """Monday first: Mon … Sun · Th 2 … CN · 周一 … 周日 (width="wide": Monday … Sunday)."""
    names = babel_dates.get_day_names(width, "format", locale=formatting_locale(language))
    return [names[index] for index in range(7)]


def month_names(language: str | None = None) -> list[str]:
    """January first, as a chart's axis says them: Jan … Dec · thg 1 … thg 12 · 1月 … 12月."""
    names = babel_dates.get_month_names("abbreviated", "stand-alone", locale=formatting_locale(language))
    return [names[index] for index in range(1, 13)]


def format_number(value: int | float | None, language: str | None = None) -> str:
    """140,000 · 140 000 · 140.000 · 140,000."""
    return "—" if value is None else babel_numbers.format_decimal(value, locale=formatting_locale(language))


def format_money(value: Any, currency: str | None, language: str | None = None) -> str:
    """1.500.000 ₫ · 1 500,00 € · ¥1,500.00: an amount in its currency as the reader's language writes it."""
    if value is None or not currency:
        return "—"
    return babel_numbers.format_currency(value, currency, locale=formatting_locale(language))


def format_percent(value: float | None, language: str | None = None) -> str:
    """A percentage given as 0–100, at most one decimal, in the language's own pattern (82,9 % · 82.9%)."""
    if value is None:
        return "—"
    locale = Locale.parse(formatting_locale(language))
    pattern = locale.percent_formats[None].pattern.replace("0", "0.#", 1)
    return babel_numbers.format_percent(value / 100, pattern, locale=locale)


def is_language_code(code: str) -> bool:
    """A language CLDR knows, written as a code: vi, zh, zh_Hant, fr, en, lo (documents and prevailing texts)."""
    try:
        return Locale.parse(code.replace("-", "_")).language in Locale("en").languages
    except (ValueError, TypeError, UnknownLocaleError):
        return False


def language_name(code: str | None, language: str | None = None) -> str:
    """A language as the reader calls it: zh → 中文 for a Chinese reader, chinois for a French one."""
    if not code:
        return "—"
    try:
        parsed = Locale.parse(code.replace("-", "_"))
    except (ValueError, TypeError, UnknownLocaleError):
        return code
    return parsed.get_display_name(formatting_locale(language)) or code


@cache
def country_names(language: str) -> dict[str, str]:
    """ISO 3166-1 countries named in the language (CLDR), without CLDR's pseudo-regions."""
    import pycountry

    territories = Locale.parse(formatting_locale(language)).territories
    return {c.alpha_2: territories.get(c.alpha_2, c.name) for c in sorted(pycountry.countries, key=lambda c: c.alpha_2)}
