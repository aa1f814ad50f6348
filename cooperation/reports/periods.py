"""Report periods: a month, a quarter, a year, an ISO week or any range of days, each with a stable key (2026-10,
2026-Q3, 2026, 2026-W47, 2025-11-01..2025-11-30) that names it in run records and claims, and a label in the report's
language."""

import calendar
import re
from dataclasses import dataclass
from datetime import date, timedelta

from cooperation import i18n
from cooperation.errors import ValidationFailed

KINDS = ("month", "quarter", "year", "week")  # what a subscription covers; a report asked for may also be a "range"
EARLIEST = date(1900, 1, 1)  # no library's cooperation records go further back; anything before is a typing slip


@dataclass(frozen=True)
class Period:
    kind: str
    start: date
    end: date  # inclusive
    key: str

    def label(self, language: str) -> str:
        """November 2025 · Tháng 11 năm 2025 · 2025年11月; Q3 2026 · 3e trimestre 2026 · Quý 3 năm 2026 · 2026年第3季度."""
        catalogue = i18n.translations(language)
        if self.kind == "month":
            return i18n.format_month(self.start, language).capitalize()
        if self.kind == "quarter":
            number = (self.start.month - 1) // 3 + 1
            return catalogue.gettext("Q%(number)s %(year)s") % {"number": number, "year": self.start.year}
        if self.kind == "year":
            return str(self.start.year)
        dates = i18n.format_days(self.start, self.end, language)
        if self.kind == "range":
            return dates
        return catalogue.gettext("week %(number)s (%(dates)s)") % {"number": self.key[-2:], "dates": dates}


def month(year: int, number: int) -> Period:
    return Period("month", date(year, number, 1), date(year, number, calendar.monthrange(year, number)[1]), f"{year}-{number:02d}")


def quarter(year: int, number: int) -> Period:
    first = date(year, 3 * number - 2, 1)
    last_month = 3 * number
    return Period("quarter", first, date(year, last_month, calendar.monthrange(year, last_month)[1]), f"{year}-Q{number}")


def year(number: int) -> Period:
    return Period("year", date(number, 1, 1), date(number, 12, 31), str(number))


def week(iso_year: int, number: int) -> Period:
    start = date.fromisocalendar(iso_year, number, 1)
    return Period("week", start, start + timedelta(days=6), f"{iso_year}-W{number:02d}")


def span(start: date, end: date) -> Period:
    """Any range of days, both included."""
    return Period("range", start, end, f"{start.isoformat()}..{end.isoformat()}")


def shifted(day: date, years: int) -> date:
    """The same day `years` years away (29 February: the 28th)."""
    try:
        return day.replace(year=day.year + years)
    except ValueError:
        return day.replace(year=day.year + years, day=28)


def parse(key: str) -> Period:
    """A period from its key; a clear error for anything else."""
    key = key.strip()
    try:
        if m := re.fullmatch(r"(\d{4})-(\d{2})", key):
            return month(int(m[1]), int(m[2]))
        if m := re.fullmatch(r"(\d{4})-Q([1-4])", key, re.I):
            return quarter(int(m[1]), int(m[2]))
        if m := re.fullmatch(r"(\d{4})", key):
            return year(int(m[1]))
        if m := re.fullmatch(r"(\d{4})-W(\d{2})", key, re.I):
            return week(int(m[1]), int(m[2]))
        if m := re.fullmatch(r"(\d{4}-\d{2}-\d{2})\s*\.\.\s*(\d{4}-\d{2}-\d{2})", key):
            start, end = date.fromisoformat(m[1]), date.fromisoformat(m[2])
            if end < start:
                raise ValidationFailed({"period": i18n.gettext("the period ends before it begins")})
            if start < EARLIEST:
                raise ValidationFailed({"period": i18n.gettext("the period begins before 1900")})
            return span(start, end)
    except ValueError:
        pass
    raise ValidationFailed(
        {
            "period": i18n.gettext(
                "%(key)s is not a period such as 2026-10, 2026-Q3, 2026, 2026-W47 or 2025-11-01..2025-11-30", key=repr(key)
            )
        }
    )


def containing(kind: str, day: date) -> Period:
    if kind == "month":
        return month(day.year, day.month)
    if kind == "quarter":
        return quarter(day.year, (day.month - 1) // 3 + 1)
    if kind == "year":
        return year(day.year)
    if kind == "week":
        iso = day.isocalendar()
        return week(iso.year, iso.week)
    raise ValidationFailed({"period": i18n.gettext("unknown period kind %(kind)s; use %(kinds)s", kind=repr(kind), kinds=", ".join(KINDS))})


def previous(kind: str, day: date) -> Period:
    """The last complete period before `day`: what a report sent on `day` is about."""
    return containing(kind, containing(kind, day).start - timedelta(days=1))
