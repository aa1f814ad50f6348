"""Expiry and notice reminders, produced once each."""

from datetime import date, timedelta

from sqlalchemy import update

from agreements import jobs, services
from agreements.models import Agreement
from agreements.schemas import AgreementIn, PartyIn

TODAY = date(2026, 11, 24)


async def in_force(db, world, reference, expires, notice=None, status="in_force"):
    data = AgreementIn(
        reference=reference,
        title=reference,
        kind="other",
        parties=[PartyIn(institution_id=world.home), PartyIn(institution_id=world.nlc)],
        effective_on=date(2020, 1, 1),
        expires_on=expires,
        notice_period_days=notice,
    )
    agreement_id = await services.create_agreement(db, world.principals["coordinator"], data)
    await db.execute(update(Agreement).where(Agreement.id == agreement_id).values(status=status))
    await db.commit()


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
