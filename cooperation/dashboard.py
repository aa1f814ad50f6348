"""The home page: panels that each domain contributes (registered by app.py), each filtered by access."""

from collections.abc import Awaitable, Callable
from dataclasses import dataclass, field
from typing import Any

from litestar import Request, get
from litestar.di import NamedDependency
from litestar.response import Template
from sqlalchemy.ext.asyncio import AsyncSession

from cooperation.auth.access import Principal
from cooperation.web import render


@dataclass
class Panel:
    """A block of the dashboard: its template fragment and the plain values it shows."""

    title: str
    template: str
    context: dict[str, Any] = field(default_factory=dict)
    order: int = 100


PanelBuilder = Callable[[AsyncSession, Principal], Awaitable[Panel | None]]
_panels: list[PanelBuilder] = []


def register_panel(builder: PanelBuilder) -> None:
    if builder not in _panels:
        _panels.append(builder)


@get("/", name="home")
async def home(request: Request[Any, Any, Any], db: NamedDependency[AsyncSession], principal: NamedDependency[Principal]) -> Template:
    panels = [panel for builder in _panels if (panel := await builder(db, principal)) is not None]
    panels.sort(key=lambda p: p.order)
    return render(request, "dashboard.html", panels=panels)


routes = [home]
