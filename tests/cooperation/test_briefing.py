"""The home page as a briefing: the year in numbers with its chart and the chart's figures in text, the
latest report with its link, quotas nearly used — each counted over what the reader may see."""

import re
from datetime import UTC, date, datetime

from cooperation.reports.models import ReportRun
from tests.exchanges.helpers import seed_visit_payload


def figure(html: str, label: str) -> str:
    found = re.search(rf"<dt>{re.escape(label)}</dt><dd><strong>([^<]+)</strong>", html)
    assert found, f"no figure {label!r}"
    return found.group(1)


async def test_the_year_in_numbers_counts_what_the_reader_may_see(client_for, world, people):
    today = date.today()
    first = date(today.year, 1, 1)
    coordinator = await client_for("coordinator")
    for starts, direction, partner in ((first, "incoming", world.nlc), (today, "incoming", world.bnf), (today, "outgoing", world.nlc)):
        host, visiting = (world.home, partner) if direction == "incoming" else (partner, world.home)
        payload = seed_visit_payload(
            world,
            people,
            starts_on=starts.isoformat(),
            ends_on=starts.isoformat(),
            direction=direction,
            host_institution_id=str(host),
            visiting_institution_id=str(visiting),
            agenda=[],
            confirm_overlaps=True,
        )
        created = await coordinator.api("POST", "/api/v1/visits", json=payload)
        assert created.status_code == 201, created.text
    last_year = seed_visit_payload(world, people, starts_on=f"{today.year - 1}-11-26", ends_on=f"{today.year - 1}-11-29", agenda=[])
    assert (await coordinator.api("POST", "/api/v1/visits", json={**last_year, "confirm_overlaps": True})).status_code == 201

    page = (await coordinator.get("/")).text
    assert f"{today.year} in numbers" in page
    assert (figure(page, "Visits received"), figure(page, "Visits made")) == ("2", "1")
    # The chart is a picture; its figures are in a table beside it, month by month.
    assert "<svg" in page and "Visits by month: 2 received, 1 made." in page
    months = re.findall(r'<tr><th scope="row">([^<]+)</th><td>(\d+)</td><td>(\d+)</td></tr>', page)
    assert len(months) == today.month and sum(int(r) for _, r, _ in months) == 2 and sum(int(m) for _, _, m in months) == 1
    # NLC's librarian counts the two visits NLC took part in; the BnF's the one of the BnF.
    partner = await client_for("partner_a")
    shared = (await partner.get("/")).text
    assert (figure(shared, "Visits received"), figure(shared, "Visits made")) == ("1", "1")
    other = (await (await client_for("partner_b")).get("/")).text
    assert (figure(other, "Visits received"), figure(other, "Visits made")) == ("1", "0")


async def test_the_latest_report_is_on_the_home_page_with_its_link(db, client_for, world):
    director = await client_for("director")
    assert "No report ready yet." in (await director.get("/")).text
    user_id = world.principals["director"].user_id
    for title, finished in (("Portfolio, October", datetime(2026, 11, 1, 6, tzinfo=UTC)), ("Portfolio, November", None)):
        db.add(
            ReportRun(
                kind="portfolio",
                language="en",
                title=title,
                requested_by_id=user_id,
                requested_by_name="Director",
                status="ready" if finished else "rendering",
                pages=6,
                finished_at=finished,
            )
        )
    db.add(ReportRun(kind="portfolio", language="en", title="Someone else's", requested_by_name="X", status="ready", pages=1))
    await db.commit()
    page = (await director.get("/")).text
    assert "Portfolio, October" in page and "Open the PDF (6 pages)" in page
    assert "Portfolio, November" not in page and "Someone else" not in page  # not ready; not theirs


async def test_a_quota_nearly_used_is_flagged_on_the_home_page(client_for, world):
    today = date.today()
    coordinator = await client_for("coordinator")
    expert = (await coordinator.api("POST", "/api/v1/people", json={"name": "Trần Thu Hà", "institution_id": str(world.home)})).json()
    programme = await coordinator.api(
        "POST",
        "/api/v1/programmes",
        json={
            "name": "NLV–NLC professional exchanges",
            "starts_on": f"{today.year}-01-01",
            "ends_on": f"{today.year + 1}-12-31",
            "institution_ids": [str(world.home), str(world.nlc)],
            "quotas": [{"direction": "incoming", "max_per_year": 4}, {"direction": "outgoing", "max_per_year": 1}],
        },
    )
    assert programme.status_code == 201, programme.text
    page = (await coordinator.get("/")).text
    assert "Outgoing 0/1" in page and "nearly used" not in page
    sent = await coordinator.api(
        "POST",
        "/api/v1/exchanges",
        json={
            "expert_person_id": expert["id"],
            "host_institution_id": str(world.nlc),
            "starts_on": today.isoformat(),
            "ends_on": today.isoformat(),
            "field_of_work": "Digitization",
            "programme_id": programme.json()["id"],
        },
    )
    assert sent.status_code == 201, sent.text
    page = (await coordinator.get("/")).text
    # As the programme's page says it: full (one of one), not "nearly used".
    assert re.search(r"Outgoing 1/1 <span class=\"badge\">full</span>", page), page[page.find("Quota use") :][:600]
    assert "nearly used" not in page
    # The exchange is proposed, not confirmed: no expert has been sent yet.
    assert "<dt>Experts sent</dt><dd><strong>0</strong></dd>" in page, page[page.find("Experts sent") - 300 :][:600]
    assert "Incoming 0/4 <span" not in page


async def test_digitization_against_target_is_charted_with_its_figures_in_text(demo_app):
    from cooperation import demo
    from tests.conftest import Client, http_client

    async with http_client(demo_app) as raw:
        director = Client(raw)
        await director.sign_in(f"director@{demo.DEMO_DOMAIN}", demo.DEMO_PASSWORD)
        page = (await director.get("/")).text
    assert re.search(r"Digitization against target, by project: Smart Service Platform for Chinese Ancient Books \d+(\.\d)?%", page)
    assert re.search(
        r'<tr><th scope="row">Smart Service Platform for Chinese Ancient Books</th><td>\d+(\.\d)?%</td><td>[\d,]+ volumes</td>', page
    )
    assert page.count("<svg") >= 1 and "<script" not in page.split("in numbers", 1)[1].split("</section>", 1)[0]


def test_chart_numbers_are_written_in_the_readers_language():
    from cooperation import charts, i18n

    for language in ("fr", "vi"):
        with i18n.using(language):
            svg = charts.bars_svg(["Jan"], {"Received": [12000]}, title="Visits")
        assert i18n.format_number(12000, language) in svg and "12,000" not in svg
