"""The language of a request, and its translations (Babel catalogues, GNU gettext).

A request's language is the signed-in user's choice (their profile), else the visitor's cookie (the switcher on
every page sets it), else the browser's `Accept-Language`, else the instance default (`COOP_DEFAULT_LANGUAGE`).
Catalogues live in `cooperation/translations/<locale>/LC_MESSAGES/messages.po` and are compiled when first used
(so the `.po` checked in is what runs: nothing to build, nothing to drift). Templates use Jinja2's `i18n` extension
(newstyle gettext: `{{ _("Agreements") }}`); Python uses `gettext`/`ngettext`/`lazy_gettext` from here.
The API stays English; its problem `detail` follows `Accept-Language`.
"""

import io
from contextvars import ContextVar
from functools import cache
from pathlib import Path
from typing import Any

from babel import Locale
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


def current() -> str:
    return _current.get()


def gettext(message: str, **values: Any) -> str:
    text = translations(current()).gettext(message)
    return text % values if values else text


def ngettext(singular: str, plural: str, n: int, **values: Any) -> str:
    text = translations(current()).ngettext(singular, plural, n)
    return text % {"num": n, **values}


def lazy_gettext(message: str, **values: Any) -> LazyProxy:
    return LazyProxy(gettext, message, **values, enable_cache=False)


def html_lang(language: str) -> str:
    """The BCP 47 tag for `<html lang>`: zh-Hans, vi, fr, en."""
    return language.replace("_", "-")
