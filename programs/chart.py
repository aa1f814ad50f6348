"""The progress chart: cumulative totals over time against the target, as SVG drawn by pygal.

Drawn without pygal's tooltip scripts (a static picture that runs no code) and called in a thread,
so a long series never stalls the event loop.
"""

import asyncio
from collections.abc import Sequence
from datetime import date

from cooperation import i18n
from cooperation.charts import options, pygal_module, static_svg
from programs.project_schemas import SeriesPoint


def progress_svg(series: Sequence[SeriesPoint], unit: str, target: int | None, *, title: str, ends_on: date | None = None) -> str:
    chart = pygal_module().DateLine(
        **options(
            width=860,
            height=340,
            title=title,
            show_dots=len(series) <= 40,
            x_value_formatter=lambda day: day.strftime("%Y-%m"),
            no_data_text=i18n.gettext("No progress reported yet"),
            include_x_axis=True,
            # With nothing reported there are no dates: pygal would label the empty axis from 1 January 1970.
            show_x_labels=bool(series),
            show_y_labels=bool(series),
        )
    )
    chart.add(i18n.label(unit).capitalize(), [(p.as_of, getattr(p, unit)) for p in series])
    if target and series:
        last = max(series[-1].as_of, ends_on or series[-1].as_of)
        chart.add(i18n.gettext("Target"), [(series[0].as_of, target), (last, target)], show_dots=False, stroke_style={"dasharray": "6, 4"})
    return static_svg(chart)


async def progress_svg_async(
    series: Sequence[SeriesPoint], unit: str, target: int | None, *, title: str, ends_on: date | None = None
) -> str:
    return await asyncio.to_thread(progress_svg, series, unit, target, title=title, ends_on=ends_on)
