"""Expiry and notice reminders, produced once each."""

import asyncio
from datetime import date, timedelta

from sqlalchemy import select, update

from agreements import jobs, services
from agreements.models import Agreement
from agreements.schemas import AgreementIn, PartyIn
from cooperation.audit import AuditEvent
from cooperation.settling import Settlement

TODAY = date(2026, 11, 24)


async def in_force(db, world, reference, expires, notice=None, status="in_force", **terms):
    data = AgreementIn(
        reference=reference,
        title=reference,
        kind="other",
        parties=[PartyIn(institution_id=world.home), PartyIn(institution_id=world.nlc)],
        effective_on=date(2020, 1, 1),
        expires_on=expires,
        notice_period_days=notice,
        **terms,
    )
    agreement_id = await services.create_agreement(db, world.principals["coordinator"], data)
    await db.execute(update(Agreement).where(Agreement.id == agreement_id).values(status=status))
    await db.commit()
    return agreement_id


async def test_reminders_for_near_notice_and_expiry_once(db, world):
    await in_force(db, world, "EXPIRES-SOON", TODAY + timedelta(days=60))
    await in_force(db, world, "NOTICE-SOON", TODAY + timedelta(days=200), notice=180)
    await in_force(db, world, "FAR", TODAY + timedelta(days=800), notice=90)
    await in_force(db, world, "OPEN", None)
    await in_force(db, world, "DRAFT", TODAY + timedelta(days=10), status="draft")
    await in_force(db, world, "GONE", TODAY - timedelta(days=1))
    reminders = await jobs.produce_expiry_reminders(db, TODAY)
    assert [(r.reference, r.kind, r.due_on, r.days_left) for r in reminders] == [
        ("NOTICE-SOON", "notice", TODAY + timedelta(days=20), 20),
        ("EXPIRES-SOON", "expiry", TODAY + timedelta(days=60), 60),
    ]
    assert await jobs.produce_expiry_reminders(db, TODAY) == []
    assert await jobs.produce_expiry_reminders(db, TODAY + timedelta(days=1)) == []
    later = await jobs.produce_expiry_reminders(db, TODAY + timedelta(days=130))
    assert [(r.reference, r.kind) for r in later] == [("NOTICE-SOON", "expiry")]


async def test_status_follows_the_dates_on_the_first_request_of_the_day(app, db, world, client_for):
    """NLV-NLR-2020 ended 2025-09-14 and stayed "in force": now the first request of a day settles it, before any page."""
    lapsed = await in_force(db, world, "NLV-NLR-2020", date(2025, 9, 14))
    rolling = await in_force(db, world, "ROLLING", date(2025, 3, 31), auto_renew=True, renewal_term_months=12)
    await in_force(db, world, "RUNNING", date(2031, 1, 1))
    old = await in_force(db, world, "OLD", date(2025, 1, 31))
    successor = await in_force(db, world, "OLD-R1", date(2030, 1, 31))
    await db.execute(update(Agreement).where(Agreement.id == successor).values(predecessor_id=old))
    await db.commit()
    app.state.settlement.settled_on = None  # as on a new day
    director = await client_for("director")
    page = await director.get(f"/agreements/{lapsed}")
    assert page.status_code == 200
    shown = {a["reference"]: a for a in (await director.api("GET", "/api/v1/agreements?per_page=100")).json()["items"]}
    assert shown["NLV-NLR-2020"]["status"] == "expired"
    assert shown["OLD"]["status"] == "superseded"
    assert shown["RUNNING"]["status"] == shown["OLD-R1"]["status"] == "in_force"
    assert shown["ROLLING"]["status"] == "in_force"
    detail = (await director.api("GET", f"/api/v1/agreements/{rolling}")).json()
    today = app.state.settlement.today()
    expected = date(2026, 3, 31) if today <= date(2026, 3, 31) else date(2027, 3, 31)
    assert detail["expires_on"] == expected.isoformat()
    in_force_view = (await director.api("GET", "/api/v1/agreements?view=in_force&per_page=100")).json()["items"]
    assert "NLV-NLR-2020" not in {a["reference"] for a in in_force_view}
    history = (await director.api("GET", f"/api/v1/agreements/{lapsed}/history")).json()
    assert history[0]["actor_name"] == "system"
    assert history[0]["summary"] == "NLV-NLR-2020: in force → expired (its expiry date, 2025-09-14, has passed)"
    renewal = (await director.api("GET", f"/api/v1/agreements/{rolling}/history")).json()[0]["summary"]
    assert renewal.startswith("ROLLING: renewed automatically by its term (12 months) on 2025-03-31; in force until ")
    # The daily job finds nothing left to do, and neither does a second process settling at the same time.
    assert await services.settle_lapsed(db, today) == 0


async def test_two_processes_settling_at_once_change_each_agreement_once(app, db, world):
    for n in range(5):
        await in_force(db, world, f"LAPSED-{n}", date(2024, 6, 30))
    other = Settlement(app.state.session_factory, "Asia/Ho_Chi_Minh", [services.settle_lapsed])
    day = date(2026, 11, 30)
    counts = await asyncio.gather(app.state.settlement.run(day), other.run(day))
    assert sum(counts) == 5
    events = (await db.execute(select(AuditEvent.entity_id).where(AuditEvent.action == "settle"))).all()
    assert len(events) == 5


async def test_the_home_page_lists_the_decisions_waiting(db, world, client_for):
    """Issue 14's briefing: notice deadlines in the next 90 days and renewals in negotiation, on the director's home
    page; a deadline further away, or one already past, is not a decision waiting."""
    today = date.today()
    await in_force(db, world, "NOTICE-IN-20", today + timedelta(days=200), notice=180)
    await in_force(db, world, "NOTICE-IN-400", today + timedelta(days=490), notice=90)
    await in_force(db, world, "NOTICE-PASSED", today + timedelta(days=30), notice=60)
    renewal = await in_force(db, world, "RENEWAL-DRAFT", today + timedelta(days=1000), status="negotiating")
    await db.execute(update(Agreement).where(Agreement.id == renewal).values(predecessor_id=await db.scalar(select(Agreement.id).limit(1))))
    await db.commit()
    decisions = await services.decisions_waiting(db, world.principals["director"], today=today)
    assert [(d.reference, d.kind) for d in decisions] == [("NOTICE-IN-20", "notice"), ("RENEWAL-DRAFT", "renewal")]
    assert decisions[0].due_on == today + timedelta(days=20)
    director = await client_for("director")
    home = (await director.get("/")).text
    waiting = home[home.index("Decisions waiting") : home.index("Expiring in the next 90 days")]
    assert "NOTICE-IN-20" in waiting and "notice to renew or end it by" in waiting and "renewal in negotiation" in waiting
    assert "NOTICE-IN-400" not in waiting and "NOTICE-PASSED" not in waiting
    for n in range(10):  # more than the page shows: the soonest ten, and how many more
        await in_force(db, world, f"MANY-{n:02d}", today + timedelta(days=100 + n), notice=90)
    home = (await director.get("/")).text
    waiting = home[home.index("Decisions waiting") : home.index("Expiring in the next 90 days")]
    assert waiting.count("<li>") == 10 and "MANY-09" in waiting and "NOTICE-IN-20" not in waiting and "and 2 more" in waiting
