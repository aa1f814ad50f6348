"""The home page: panels that each domain contributes (registered by app.py), each filtered by access."""

from collections.abc import Awaitable, Callable
from dataclasses import dataclass, field
from datetime import date
from typing import Any

from litestar import Request, get
from litestar.di import NamedDependency
from litestar.response import Template
from sqlalchemy.ext.asyncio import AsyncSession

from cooperation import i18n
from cooperation.auth.access import Principal
from cooperation.partners import dormancy
from cooperation.web import render


@dataclass
class Panel:
    """A block of the dashboard: its template fragment and the plain values it shows."""

    title: str
    template: str
    context: dict[str, Any] = field(default_factory=dict)
    order: int = 100


@dataclass
class Chart:
    """A small chart and the same figures as a table, for those who cannot see it."""

    svg: str
    caption: str
    headers: list[str]
    rows: list[list[str]]


@dataclass
class Figure:
    """One of the year's numbers on the home page: counted over what the reader may see."""

    label: str
    value: str
    detail: str = ""
    order: int = 100
    chart: Chart | None = None


PanelBuilder = Callable[[AsyncSession, Principal], Awaitable[Panel | None]]
FigureBuilder = Callable[[AsyncSession, Principal, date, date], Awaitable[list[Figure]]]
_panels: list[PanelBuilder] = []
_figures: list[FigureBuilder] = []


def register_panel(builder: PanelBuilder) -> None:
    if builder not in _panels:
        _panels.append(builder)


def register_figures(builder: FigureBuilder) -> None:
    if builder not in _figures:
        _figures.append(builder)


async def year_panel(db: AsyncSession, principal: Principal, today: date) -> Panel | None:
    """The year in numbers, from 1 January to today: each domain gives its figures."""
    first = date(today.year, 1, 1)
    figures = [figure for builder in _figures for figure in await builder(db, principal, first, today)]
    if not figures:
        return None
    figures.sort(key=lambda f: f.order)
    title = i18n.gettext("%(year)s in numbers", year=today.year)
    return Panel(title=title, template="_year.html", order=5, context={"figures": figures, "first": first, "today": today})


async def dormant_panel(db: AsyncSession, principal: Principal, months: int, today: date) -> Panel | None:
    """Partnerships gone quiet (cooperation/partners/dormancy.py), the longest silent first; none for a partner."""
    quiet = await dormancy.dormant_partners(db, principal, today, months)
    if not quiet:
        return None
    context = {"quiet": quiet[:10], "more": len(quiet) - 10, "months": months}
    return Panel(title=i18n.gettext("Dormant partnerships"), template="partners/_dormant.html", order=25, context=context)


@get("/", name="home")
async def home(request: Request[Any, Any, Any], db: NamedDependency[AsyncSession], principal: NamedDependency[Principal]) -> Template:
    panels = [panel for builder in _panels if (panel := await builder(db, principal)) is not None]
    today = date.today()
    if (year := await year_panel(db, principal, today)) is not None:
        panels.append(year)
    if (quiet := await dormant_panel(db, principal, request.app.state.settings.dormant_months, today)) is not None:
        panels.append(quiet)
    panels.sort(key=lambda p: p.order)
    return render(request, "dashboard.html", panels=panels)


routes = [home]
