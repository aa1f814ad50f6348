"""A record's title and summary in other languages, next to the original.

Agreements, visits, programmes and projects keep what was typed first (the original, in whatever language) and,
optionally, a version per LibCoop language: `{"vi": {"title": "…", "summary": "…"}, "zh_Hans": {…}}`, one JSON
column per record. Pages and reports show the reader's version when there is one, else the original; search finds
a record by any of them. Forms post them as `translation-<language>-title` / `-summary`.
"""

from typing import Annotated, Any

import msgspec

from cooperation import i18n
from cooperation.records import nfc

FIELDS = ("title", "summary")
LIMITS = {"title": 400, "summary": 20000}  # as TextVersion says: a form's versions are built without msgspec's checks


class TextVersion(msgspec.Struct, forbid_unknown_fields=True, omit_defaults=True):
    title: Annotated[str, msgspec.Meta(max_length=400)] | None = None
    summary: Annotated[str, msgspec.Meta(max_length=20000)] | None = None


Versions = dict[str, TextVersion]


def clean(versions: Versions | None) -> tuple[dict[str, dict[str, str]], dict[str, str]]:
    """What to store (blank versions dropped, text in NFC) and the errors, keyed `translations.<language>`."""
    stored: dict[str, dict[str, str]] = {}
    errors: dict[str, str] = {}
    for language, version in (versions or {}).items():
        if language not in i18n.LANGUAGES:
            offered = ", ".join(i18n.LANGUAGES)
            errors[f"translations.{language}"] = i18n.gettext("not one of LibCoop's languages (%(languages)s)", languages=offered)
            continue
        texts = {field: nfc(value.strip()) for field in FIELDS if (value := getattr(version, field)) and value.strip()}
        for field, text in texts.items():
            if len(text) > LIMITS[field]:
                errors[f"translation-{language}-{field}"] = i18n.gettext("at most %(n)s characters", n=LIMITS[field])
        if texts:
            stored[language] = texts
    return stored, errors


def from_form(form: dict[str, Any]) -> Versions:
    versions: Versions = {}
    for language in i18n.LANGUAGES:
        texts = {field: str(form.get(f"translation-{language}-{field}") or "") for field in FIELDS}
        if any(value.strip() for value in texts.values()):
            versions[language] = TextVersion(**{k: v for k, v in texts.items() if v.strip()})
    return versions


def to_form(stored: dict[str, dict[str, str]] | None) -> dict[str, str]:
    return {f"translation-{language}-{field}": text for language, texts in (stored or {}).items() for field, text in texts.items()}


def search_words(stored: dict[str, dict[str, str]] | None) -> str:
    return " ".join(text for texts in (stored or {}).values() for text in texts.values())


def in_language(original: Any, stored: dict[str, Any] | None, field: str, language: str | None = None) -> Any:
    """The reader's version of a field when the record has one, else the original as typed."""
    version = (stored or {}).get(language or i18n.current()) or {}
    text = version.get(field) if isinstance(version, dict) else getattr(version, field, None)
    return text or original
