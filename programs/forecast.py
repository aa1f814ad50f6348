"""Progress arithmetic on plain values: totals over time, the 90-day rate, the completion date it implies,
stale participants and milestone states. No database here, so every rule is tested on known numbers."""

import math
import uuid
from collections.abc import Iterable, Sequence
from datetime import date, timedelta
from typing import NamedTuple

from programs.project_schemas import UNITS, Forecast, SeriesPoint

RATE_WINDOW_DAYS = 90
AT_RISK_DAYS = 30  # a milestone not done within this many days of its due date is at risk


class Report(NamedTuple):
    institution_id: uuid.UUID
    as_of: date
    titles: int | None
    volumes: int | None
    images: int | None


def totals_over_time(reports: Iterable[Report]) -> list[SeriesPoint]:
    """At each reported date, the sum over participants of each one's latest cumulative figure up to that date."""
    latest: dict[uuid.UUID, dict[str, int]] = {}
    sums = dict.fromkeys(UNITS, 0)
    points: list[SeriesPoint] = []
    for report in sorted(reports, key=lambda r: r.as_of):
        previous = latest.get(report.institution_id, {})
        # A unit left blank keeps that participant's last figure.
        current = {unit: v if (v := getattr(report, unit)) is not None else previous.get(unit, 0) for unit in UNITS}
        for unit in UNITS:
            sums[unit] += current[unit] - previous.get(unit, 0)
        latest[report.institution_id] = current
        point = SeriesPoint(report.as_of, sums["titles"], sums["volumes"], sums["images"])
        if points and points[-1].as_of == report.as_of:
            points[-1] = point
        else:
            points.append(point)
    return points


def value_on(series: Sequence[SeriesPoint], unit: str, day: date) -> int:
    """The total in `unit` as last reported on or before `day` (0 before the first report)."""
    value = 0
    for point in series:
        if point.as_of > day:
            break
        value = getattr(point, unit)
    return value


def forecast(series: Sequence[SeriesPoint], unit: str, target: int | None, today: date, starts_on: date, ends_on: date | None) -> Forecast:
    """The rate over the last 90 days (or since the start, when it is more recent) and where it leads."""
    done = value_on(series, unit, today)
    window_start = max(today - timedelta(days=RATE_WINDOW_DAYS), starts_on)
    days = (today - window_start).days
    rate = (done - value_on(series, unit, window_start)) / days if days > 0 else None
    outlook = forecast_from(done, rate, target, today, ends_on, unit=unit)
    if target is not None and done >= target:  # reached: say when, from the reports
        outlook.completion_on = next((p.as_of for p in series if getattr(p, unit) >= target), today)
    return outlook


def forecast_from(done: int, rate: float | None, target: int | None, today: date, ends_on: date | None, *, unit: str = "") -> Forecast:
    completion: date | None = None
    if target is not None and done >= target:
        completion = today
    elif target is not None and rate and rate > 0:
        completion = today + timedelta(days=math.ceil((target - done) / rate))
    after_end = bool(target is not None and ends_on is not None and done < target and (completion is None or completion > ends_on))
    return Forecast(unit, done, target, rate, completion, after_end)


def is_stale(last_report: date | None, today: date, stale_after_days: int) -> bool:
    return last_report is None or (today - last_report).days > stale_after_days


def milestone_state(due_on: date, done_on: date | None, today: date) -> str:
    if done_on is not None:
        return "done"
    if due_on < today:
        return "late"
    if (due_on - today).days <= AT_RISK_DAYS:
        return "at_risk"
    return "on_track"


def percent(done: int | None, target: int | None) -> float | None:
    if not target:
        return None
    return round(100 * (done or 0) / target, 1)
