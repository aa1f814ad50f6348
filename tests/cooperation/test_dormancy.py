"""Dormant partnerships: a partner bound by an agreement in force with nothing recorded for
COOP_DORMANT_MONTHS months — flagged on its page and on the briefing, with its last activity; found for every partner
by one SQL statement; told to the department only."""

from datetime import date, timedelta

import pytest
from sqlalchemy import update

from agreements import services as agreement_services
from agreements.models import Agreement
from agreements.schemas import AgreementIn, PartyIn
from cooperation.partners.dormancy import dormant_partners, months_before
from cooperation.settings import Settings, SettingsError
from tests.conftest import QueryCounter
from tests.exchanges.helpers import seed_visit_payload

TODAY = date.today()


async def bound(db, world, reference, partner, *, expires=None, status="in_force", signed=None):
    data = AgreementIn(
        reference=reference,
        title=reference,
        kind="other",
        parties=[PartyIn(institution_id=world.home), PartyIn(institution_id=partner)],
        effective_on=date(2020, 1, 1),
        expires_on=expires,
        confidentiality="parties",  # shared with the partner (a new agreement is otherwise internal)
    )
    agreement_id = await agreement_services.create_agreement(db, world.principals["coordinator"], data)
    await db.execute(update(Agreement).where(Agreement.id == agreement_id).values(status=status, signed_on=signed or date(2019, 12, 1)))
    await db.commit()


async def visit_with(coordinator, world, people, partner, starts: date):
    payload = seed_visit_payload(
        world,
        people,
        visiting_institution_id=str(partner),
        starts_on=starts.isoformat(),
        ends_on=starts.isoformat(),
        agenda=[],
        confirm_overlaps=True,
    )
    created = await coordinator.api("POST", "/api/v1/visits", json=payload)
    assert created.status_code == 201, created.text


def test_months_before_keeps_the_day_or_the_months_last():
    assert months_before(date(2026, 11, 30), 12) == date(2025, 11, 30)
    assert months_before(date(2026, 3, 31), 1) == date(2026, 2, 28)
    assert months_before(date(2024, 3, 31), 1) == date(2024, 2, 29)
    assert months_before(date(2026, 1, 15), 13) == date(2024, 12, 15)


async def test_a_silent_partner_bound_by_an_agreement_is_dormant(app, db, client_for, world, people):
    await bound(db, world, "NLV-NLC", world.nlc)
    await bound(db, world, "NLV-BNF", world.bnf)
    await bound(db, world, "NLV-NDL", world.ndl, expires=TODAY - timedelta(days=30), status="expired")  # bound no more
    coordinator = await client_for("coordinator")
    await visit_with(coordinator, world, people, world.nlc, TODAY - timedelta(days=60))
    await visit_with(coordinator, world, people, world.bnf, TODAY - timedelta(days=430))

    with QueryCounter(app) as counter:
        quiet = await dormant_partners(db, world.principals["director"], TODAY, 12)
    assert counter.count == 1  # every partner at once
    assert [(d.code, d.last_kind, d.last_day) for d in quiet] == [("BNF", "visit", TODAY - timedelta(days=430))]
    assert await dormant_partners(db, world.principals["partner_b"], TODAY, 12) == []  # the department's view only

    director = await client_for("director")
    home = (await director.get("/")).text
    assert "Dormant partnerships" in home and "last: visit," in home and ">BNF</a>" in home and ">NLC</a>" not in home
    page = (await director.get(f"/institutions/{world.bnf}")).text
    assert 'id="dormant"' in page and "nothing has happened for 12 months or more. Last activity: visit, " in page
    assert 'id="dormant"' not in (await director.get(f"/institutions/{world.nlc}")).text
    partner_page = await (await client_for("partner_b")).get(f"/institutions/{world.bnf}")
    assert partner_page.status_code == 200 and 'id="dormant"' not in partner_page.text

    # A comment by the BnF's librarian on the agreement they share wakes the partnership up.
    partner = await client_for("partner_b")
    agreement = (await coordinator.api("GET", "/api/v1/agreements?q=NLV-BNF")).json()["items"][0]
    said = await partner.api("POST", f"/api/v1/comments/agreement/{agreement['id']}", json={"body": "Shall we meet in 2027?"})
    assert said.status_code == 201, said.text
    assert await dormant_partners(db, world.principals["director"], TODAY, 12) == []
    # A shorter window makes NLC's visit two months ago too old.
    assert [d.code for d in await dormant_partners(db, world.principals["director"], TODAY, 1)] == ["NLC"]


async def test_a_partner_with_nothing_recorded_yet_is_dormant_when_its_agreement_is_old(db, world, client_for):
    await bound(db, world, "NLV-NDL", world.ndl)
    (quiet,) = await dormant_partners(db, world.principals["coordinator"], TODAY, 12)
    assert (quiet.code, quiet.last_kind, quiet.last_day) == ("NDL", "agreement_signed", date(2019, 12, 1))
    page = " ".join((await (await client_for("coordinator")).get(f"/institutions/{world.ndl}")).text.split())
    assert "Last activity: agreement signed, " in page and "a agreement" not in page
    await bound(db, world, "NLV-NLC-NEW", world.nlc, signed=TODAY - timedelta(days=20))  # just signed: not dormant
    assert [d.code for d in await dormant_partners(db, world.principals["coordinator"], TODAY, 12)] == ["NDL"]


def test_the_dormancy_window_is_a_setting(monkeypatch):
    monkeypatch.setenv("COOP_DORMANT_MONTHS", "6")
    monkeypatch.setenv("COOP_SECRET_KEY", "k" * 48)
    assert Settings.from_env().dormant_months == 6
    monkeypatch.setenv("COOP_DORMANT_MONTHS", "0")
    with pytest.raises(SettingsError, match="COOP_DORMANT_MONTHS"):
        Settings.from_env()


async def test_the_portfolio_report_lists_the_dormant_partners_in_its_language(app, db, world):
    from cooperation.reports import builders, periods

    await bound(db, world, "NLV-NDL", world.ndl)
    settings = app.state.settings
    period = periods.containing("month", TODAY)
    built = await builders.build(db, world.principals["director"], settings, "portfolio", None, period, "fr", today=TODAY)
    assert "Partenariats en sommeil" in built.html and "NDL · " in built.html and "accord signé, " in built.html
    partner = await builders.build(db, world.principals["partner_b"], settings, "portfolio", None, period, "en", today=TODAY)
    assert "Dormant partnerships" not in partner.html  # a partner's portfolio does not say who went quiet


async def test_coordinators_hear_of_dormant_partners_once_a_month(app, db, world, smtp_port, inbox):
    from dataclasses import replace

    from cooperation.partners.dormancy import send_monthly_digest

    settings = replace(app.state.settings, smtp_port=smtp_port, mail_enabled=True)
    factory = app.state.session_factory
    assert await send_monthly_digest(factory, settings, TODAY) == 0  # nobody is bound yet: nothing to say
    await bound(db, world, "NLV-NDL", world.ndl)
    assert await send_monthly_digest(factory, settings, TODAY) == 1  # the one coordinator
    assert await send_monthly_digest(factory, settings, TODAY) == 0  # the same month again: nothing
    (message,) = inbox.to(world.users["coordinator"])
    body = message.get_body(("plain",)).get_content()
    assert "1 dormant partnership" in message["Subject"] and "NDL · National Diet Library: last: agreement signed," in body
    assert "You receive this as a coordinator" in body and not inbox.to(world.users["director"])
