"""The portfolio report's key figures equal what the pages say for the same period and reader: the home
page's year in numbers (visits received and made, experts, digitization against target) and the agreements list (in
force), for the demo world and for the demo world grown by synthetic agreements; and each figure's change is said with
an arrow and a number."""

from datetime import date

import pytest

from agreements.demo import load_scale
from agreements.services import settle_lapsed
from cooperation import demo
from cooperation.auth.models import User
from cooperation.auth.services import principal_of
from cooperation.reports import periods, trends
from exchanges import summary as exchanges_summary
from programs import summary as programs_summary
from tests.conftest import Client, http_client


def _number(text: str) -> float:
    return float(text.replace(",", "").replace("%", "").replace("\u202f", "").replace("\xa0", "").strip())


async def _compare(app, who: str) -> dict[str, float]:
    today = date.today()
    async with app.state.session_factory() as session:
        from sqlalchemy import select

        user = (await session.execute(select(User).where(User.email == f"{who}@{demo.DEMO_DOMAIN}"))).scalars().one()
        principal = principal_of(user)
        year = periods.year(today.year)
        report = {f.key: f.value for f in await trends.figures(session, principal, year.start, year.end, min(today, year.end))}
        page = {
            f.label: f.value
            for f in [
                *await exchanges_summary.year_figures(session, principal, date(today.year, 1, 1), today),
                *await programs_summary.year_figures(session, principal, date(today.year, 1, 1), today),
            ]
        }
    assert report["visits_received"] == _number(page["Visits received"])
    assert report["visits_made"] == _number(page["Visits made"])
    assert report["experts_exchanged"] == _number(page["Experts received"]) + _number(page["Experts sent"])
    digitization = next((v for k, v in page.items() if "igitization" in k), None)
    if digitization is not None:
        assert round(report["digitization"]) == round(_number(digitization))
    async with http_client(app) as raw:
        client = Client(raw)
        await client.sign_in(f"{who}@{demo.DEMO_DOMAIN}", demo.DEMO_PASSWORD)
        listed = (await client.api("GET", "/api/v1/agreements?view=in_force&per_page=1")).json()
    assert report["agreements_in_force"] == listed["total"]
    return report


@pytest.mark.parametrize("backend", ["sqlite"], indirect=True)
async def test_the_reports_figures_are_the_pages_figures(demo_app):
    for who in ("director", "partner.nlc"):  # the same rules for every reader: a partner's figures are its own
        await _compare(demo_app, who)
    director = await _compare(demo_app, "director")
    assert director["agreements_in_force"] >= 3
    # A second world: the demo grown by synthetic agreements.
    async with demo_app.state.session_factory() as session:
        await load_scale(session, 3)
        await session.commit()
        await settle_lapsed(session, date.today())  # as the first request of the day does: statuses follow the dates
        await session.commit()
    await _compare(demo_app, "director")


def test_a_change_is_an_arrow_and_a_number():
    figure = trends.KeyFigure("visits_received", "Visits received", 5)
    assert trends._change(figure, 3, "October 2025", "en").said == "▲ +2"
    assert trends._change(figure, 7, "October 2025", "en").said == "▼ −2"
    assert trends._change(figure, 5, "October 2025", "en").said == "= 0"
    share = trends.KeyFigure("digitization", "Digitization against target", 42.5, percent=True)
    assert trends._change(share, 40, "2024", "fr").said == "▲ +2,5 pt"
    assert trends.year_before(periods.parse("2026-W01")).key == "2025-W01"
    assert trends.before(periods.parse("2026-Q1")).key == "2025-Q4"
