"""The progress chart: cumulative totals over time against the target, as SVG drawn by pygal.

Drawn without pygal's tooltip scripts (a static picture that runs no code) and called in a thread,
so a long series never stalls the event loop.
"""

import asyncio
import re
import sys
from collections.abc import Sequence
from datetime import date

import pygal
from pygal.style import Style

from programs.project_schemas import SeriesPoint

# pygal appends an import hook (for its map plugins, unused here) that predates find_spec: every later import
# then warns. Take it out again.
sys.meta_path[:] = [finder for finder in sys.meta_path if type(finder).__name__ != "PluginImportFixer"]

SCRIPT = re.compile(r"<script\b.*?</script>", re.S)
STYLE = Style(
    background="transparent",
    plot_background="transparent",
    foreground="#1f2933",
    foreground_strong="#1f2933",
    foreground_subtle="#9aa5b1",
    colors=("#0b6e4f", "#c0392b", "#2f6fb0"),
    font_family="'Noto Sans', 'Noto Sans CJK SC', sans-serif",
    label_font_size=12,
    legend_font_size=13,
    title_font_size=15,
)


def progress_svg(series: Sequence[SeriesPoint], unit: str, target: int | None, *, title: str, ends_on: date | None = None) -> str:
    chart = pygal.DateLine(
        js=[],
        style=STYLE,
        width=860,
        height=340,
        title=title,
        disable_xml_declaration=True,
        show_dots=len(series) <= 40,
        x_value_formatter=lambda day: day.strftime("%Y-%m"),
        value_formatter=lambda value: f"{value:,.0f}",
        x_label_rotation=0,
        legend_at_bottom=True,
        truncate_legend=-1,
        no_data_text="No progress reported yet",
        include_x_axis=True,
    )
    chart.add(unit.capitalize(), [(p.as_of, getattr(p, unit)) for p in series])
    if target and series:
        last = max(series[-1].as_of, ends_on or series[-1].as_of)
        chart.add("Target", [(series[0].as_of, target), (last, target)], show_dots=False, stroke_style={"dasharray": "6, 4"})
    # pygal still writes an inline config script for its (unused) tooltips: a static picture needs none.
    # Its one style attribute (the hidden tooltip) as a presentation attribute: pages allow no inline style.
    return SCRIPT.sub("", str(chart.render(is_unicode=True))).replace('style="opacity: 0"', 'opacity="0"')


async def progress_svg_async(
    series: Sequence[SeriesPoint], unit: str, target: int | None, *, title: str, ends_on: date | None = None
) -> str:
    return await asyncio.to_thread(progress_svg, series, unit, target, title=title, ends_on=ends_on)
