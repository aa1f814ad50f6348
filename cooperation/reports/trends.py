"""The portfolio report's key figures, each with its change against the previous period and the same period a year
before: what the director reads first.

Each domain counts its own figures (`key_figures` in its summary.py, registered by app.py) for any period, with the
reader's rights and by the same rules as its pages and the report's own tables; this module asks them for the three
periods and says each change with an arrow and a number (never a colour alone).
"""

from collections.abc import Awaitable, Callable
from dataclasses import dataclass, field
from datetime import date, timedelta
from typing import Any

from sqlalchemy.ext.asyncio import AsyncSession

from cooperation import i18n
from cooperation.auth.access import Principal
from cooperation.reports import periods


@dataclass
class KeyFigure:
    """One figure of a period: `value` a count, or a percentage when `percent`."""

    key: str
    label: str
    value: float
    order: int = 100
    percent: bool = False


KeyFigures = Callable[[AsyncSession, Principal, date, date, date], Awaitable[list[KeyFigure]]]
_sources: list[KeyFigures] = []


def register(source: KeyFigures) -> None:
    if source not in _sources:  # every app made (tests make many) registers the same domains
        _sources.append(source)


async def figures(session: AsyncSession, principal: Principal, start: date, end: date, as_of: date) -> list[KeyFigure]:
    """Every domain's figures for one period, in their order."""
    found = [figure for source in _sources for figure in await source(session, principal, start, end, as_of)]
    return sorted(found, key=lambda f: f.order)


def before(period: periods.Period) -> periods.Period:
    """The period just before: the previous month, quarter, year or week; for a range, as many days just before."""
    if period.kind == "range":
        return periods.span(period.start - (period.end - period.start) - timedelta(days=1), period.start - timedelta(days=1))
    return periods.containing(period.kind, period.start - timedelta(days=1))


def year_before(period: periods.Period) -> periods.Period:
    """The same period a year earlier (the same ISO week number for a week)."""
    if period.kind == "range":
        return periods.span(periods.shifted(period.start, -1), periods.shifted(period.end, -1))
    if period.kind == "week":
        iso = period.start.isocalendar()
        return periods.week(iso.year - 1, min(iso.week, date(iso.year - 1, 12, 28).isocalendar().week))
    return periods.containing(period.kind, period.start.replace(year=period.start.year - 1))


@dataclass
class Change:
    """A change from an earlier period, as the report says it: ▲ +3 · ▼ −2 · = 0 (with the earlier value)."""

    against: str  # which period it compares with
    earlier: str
    said: str
    direction: str  # up / down / same


@dataclass
class Tile:
    label: str
    value: str
    changes: list[Change] = field(default_factory=list)


def _shown(figure: KeyFigure, value: float, language: str) -> str:
    return i18n.format_percent(value, language) if figure.percent else i18n.format_number(int(value), language)


def _change(figure: KeyFigure, earlier: float, against: str, language: str) -> Change:
    delta = figure.value - earlier
    sign = "+" if delta > 0 else "−" if delta < 0 else ""
    amount = abs(delta)
    number = i18n.format_number(round(amount, 1) if figure.percent else int(amount), language)
    if figure.percent:  # percentage points
        number = i18n.translations(language).gettext("%(number)s pt") % {"number": number}
    arrow, direction = ("▲", "up") if delta > 0 else ("▼", "down") if delta < 0 else ("=", "same")
    return Change(against=against, earlier=_shown(figure, earlier, language), said=f"{arrow} {sign}{number}", direction=direction)


async def tiles(session: AsyncSession, principal: Principal, period: periods.Period, as_of: date, language: str) -> list[Tile]:
    """The period's key figures, each with its change against the previous period and, unless that is the same
    period, the same period a year before."""
    comparisons = [before(period)]
    if period.kind != "year":
        comparisons.append(year_before(period))
    now = await figures(session, principal, period.start, period.end, as_of)
    earlier: list[tuple[periods.Period, dict[str, float]]] = []
    for other in comparisons:
        found = await figures(session, principal, other.start, other.end, other.end)
        earlier.append((other, {f.key: f.value for f in found}))
    result = []
    for figure in now:
        tile = Tile(label=figure.label, value=_shown(figure, figure.value, language))
        for other, by_key in earlier:
            if figure.key in by_key:
                tile.changes.append(_change(figure, by_key[figure.key], other.label(language), language))
        result.append(tile)
    return result


def as_lines(found: list[Tile]) -> list[str]:
    """The tiles as plain lines (an e-mail's text part, the run's summary)."""

    def against(c: Change) -> str:
        return " (" + i18n.gettext("%(change)s against %(period)s", change=c.said, period=c.against) + ")"

    return [f"{t.label}: {t.value}" + "".join(against(c) for c in t.changes) for t in found]


# ---- decisions to take -----------------------------------------------------------------------------------------


@dataclass
class DecisionLine:
    """One thing the director must decide or watch: what, by when (if a date says it), about which record."""

    what: str
    reference: str
    due_on: date | None = None
    order: int = 100


Decisions = Callable[[AsyncSession, Principal, date], Awaitable[list[DecisionLine]]]
_deciders: list[Decisions] = []


def register_decisions(source: Decisions) -> None:
    if source not in _deciders:
        _deciders.append(source)


async def decisions(session: AsyncSession, principal: Principal, as_of: date) -> list[DecisionLine]:
    """Every domain's decisions as of a day: dated ones first, soonest first."""
    found = [line for source in _deciders for line in await source(session, principal, as_of)]
    return sorted(found, key=lambda d: (d.due_on is None, d.due_on or date.max, d.order, d.reference))


def digest(found: list[Tile], lines: list[DecisionLine], t: Callable[..., str], language: str) -> list[dict[str, Any]]:
    """Page 1 as the e-mail that carries the report shows it (cooperation/reports/delivery.py): the tiles, then the
    decisions under their heading, each with the text its plain-text part prints; all in the report's language."""
    items: list[dict[str, Any]] = []
    for line, tile in zip(as_lines(found), found, strict=True):
        changes = [f"{c.said} {t('against', period=c.against, earlier=c.earlier)}" for c in tile.changes]
        items.append({"kind": "tile", "label": tile.label, "value": tile.value, "changes": changes, "text": line})
    if lines:
        items.append({"kind": "heading", "text": t("decisions")})
    for d in lines:
        due = i18n.format_day(d.due_on, "medium", language) if d.due_on else ""
        text = f"{due + ' · ' if due else ''}{d.what} ({d.reference})"
        items.append({"kind": "decision", "due": due, "what": d.what, "reference": d.reference, "text": text})
    return items
