"""Small SVG charts drawn by pygal, shared by the domains: static pictures (no tooltip script, no inline style) with
their figures given beside them in text, drawn in a thread so they never stall the event loop."""

import asyncio
import functools
import re
import sys
from types import ModuleType
from typing import Any

from cooperation import i18n

SCRIPT = re.compile(r"<script\b.*?</script>", re.S)


@functools.cache
def pygal_module() -> ModuleType:
    """pygal, imported when the first chart is drawn (not when the app starts: most requests draw none)."""
    import pygal

    # pygal appends an import hook (for its map plugins, unused here) that predates find_spec: every later import
    # then warns. Take it out again.
    sys.meta_path[:] = [finder for finder in sys.meta_path if type(finder).__name__ != "PluginImportFixer"]
    return pygal


@functools.cache
def _style() -> Any:
    from pygal.style import Style

    pygal_module()
    return Style(
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


def static_svg(chart: Any) -> str:
    """pygal still writes an inline config script for its (unused) tooltips: a static picture needs none. Its one
    style attribute (the hidden tooltip) becomes a presentation attribute: pages allow no inline style."""
    return SCRIPT.sub("", str(chart.render(is_unicode=True))).replace('style="opacity: 0"', 'opacity="0"')


def options(**chart: object) -> dict[str, object]:
    """What every LibCoop chart shares: no script, the house style, the legend below, numbers in the reader's language."""
    return {
        "js": [],
        "style": _style(),
        "disable_xml_declaration": True,
        "legend_at_bottom": True,
        "truncate_legend": -1,
        "x_label_rotation": 0,
        "value_formatter": i18n.format_number,
        **chart,
    }


def bars_svg(labels: list[str], series: dict[str, list[int]], *, title: str, horizontal: bool = False, percent: bool = False) -> str:
    """Bars side by side for each label, one colour a series; `percent` draws a 0–100 scale."""
    pygal = pygal_module()
    chart = (pygal.HorizontalBar if horizontal else pygal.Bar)(**options(width=560, height=240, title=title, print_values=False))
    top = max((v for values in series.values() for v in values), default=0)
    step = max(1, -(-top // 5))  # whole numbers on the axis: counting visits, there is no half of one
    chart.y_labels = list(range(0, 101, 20)) if percent else list(range(0, max(top, 1) + step, step))
    chart.x_labels = labels
    for name, values in series.items():
        chart.add(name, values)
    return static_svg(chart)


async def bars_svg_async(
    labels: list[str], series: dict[str, list[int]], *, title: str, horizontal: bool = False, percent: bool = False
) -> str:
    return await asyncio.to_thread(bars_svg, labels, series, title=title, horizontal=horizontal, percent=percent)
