"""The agreement lifecycle: every allowed and every refused transition, and the preconditions."""

import uuid
from datetime import date, timedelta

import pytest
from sqlalchemy import update

from agreements import services
from agreements.models import Agreement
from agreements.schemas import AgreementIn, AgreementStatus, PartyIn, TransitionIn
from cooperation.auth.access import Principal
from cooperation.errors import TransitionRefused

S = AgreementStatus
TODAY = date(2026, 11, 24)
ALLOWED = {
    (S.DRAFT, S.NEGOTIATING),
    (S.NEGOTIATING, S.DRAFT),
    (S.NEGOTIATING, S.SIGNED),
    (S.SIGNED, S.IN_FORCE),
    (S.SIGNED, S.TERMINATED),
    (S.IN_FORCE, S.EXPIRED),
    (S.IN_FORCE, S.TERMINATED),
    (S.IN_FORCE, S.SUPERSEDED),
    (S.EXPIRED, S.SUPERSEDED),
}


def coordinator(world) -> Principal:
    return world.principals["coordinator"]


async def make_agreement(
    db,
    world,
    status: AgreementStatus,
    *,
    reference: str,
    expires_on: date | None = TODAY - timedelta(days=1),
    signed: bool = True,
    effective_on: date | None = date(2020, 1, 1),
) -> uuid.UUID:
    """An agreement whose dates satisfy every precondition, put straight into `status` for the test."""
    signed_on = date(2019, 12, 1) if signed else None
    data = AgreementIn(
        reference=reference,
        title="Test agreement",
        kind="cooperation_agreement",
        parties=[PartyIn(institution_id=world.home, signed_on=signed_on), PartyIn(institution_id=world.nlc, signed_on=signed_on)],
        effective_on=effective_on,
        expires_on=expires_on,
    )
    agreement_id = await services.create_agreement(db, coordinator(world), data)
    await db.execute(update(Agreement).where(Agreement.id == agreement_id).values(status=status.value))
    await db.commit()
    return agreement_id


async def add_live_successor(db, world, predecessor_id: uuid.UUID, reference: str) -> None:
    successor = await make_agreement(db, world, S.SIGNED, reference=reference, expires_on=None)
    await db.execute(update(Agreement).where(Agreement.id == successor).values(predecessor_id=predecessor_id))
    await db.commit()


async def test_every_transition_is_allowed_or_refused_as_specified(db, world):
    """7 × 7 pairs: with every precondition met, only the lifecycle's edges succeed."""
    checked = 0
    for index, (source, target) in enumerate((s, t) for s in S for t in S):
        # For "in force" the agreement must not be past its expiry yet; for "expired" it must be.
        expires = TODAY + timedelta(days=30) if target is S.IN_FORCE else TODAY - timedelta(days=1)
        agreement_id = await make_agreement(db, world, source, reference=f"T-{index}", expires_on=expires)
        if target is S.SUPERSEDED:
            await add_live_successor(db, world, agreement_id, f"T-{index}-R1")
        data = TransitionIn(to=target, version=1, note="Both parties agreed to end it")
        if (source, target) in ALLOWED:
            await services.transition(db, coordinator(world), agreement_id, data, on=TODAY)
            assert (await services.get_agreement(db, coordinator(world), agreement_id)).status == target.value
        else:
            with pytest.raises(TransitionRefused) as refused:
                await services.transition(db, coordinator(world), agreement_id, data, on=TODAY)
            assert "cannot become" in refused.value.detail
            assert (await services.get_agreement(db, coordinator(world), agreement_id)).status == source.value
        checked += 1
    assert checked == 49


@pytest.mark.parametrize(
    ("source", "target", "setup", "reason"),
    [
        (S.NEGOTIATING, S.SIGNED, {"signed": False}, "NLV, NLC has no signing date"),
        (S.SIGNED, S.IN_FORCE, {"effective_on": None}, "without an effective date"),
        (S.SIGNED, S.IN_FORCE, {"effective_on": TODAY + timedelta(days=3), "expires_on": None}, "before its effective date"),
        (S.SIGNED, S.IN_FORCE, {"expires_on": TODAY - timedelta(days=3)}, "expired on"),
        (S.IN_FORCE, S.EXPIRED, {"expires_on": TODAY + timedelta(days=3)}, "cannot be expired before then"),
        (S.IN_FORCE, S.EXPIRED, {"expires_on": None}, "open-ended"),
        (S.IN_FORCE, S.TERMINATED, {"note": ""}, "a note is required"),
        (S.IN_FORCE, S.SUPERSEDED, {}, "signed or in force"),
    ],
)
async def test_preconditions_refuse_with_the_reason(db, world, source, target, setup, reason):
    setup = dict(setup)  # the parameter is shared by both backends
    note = setup.pop("note", "reason")
    agreement_id = await make_agreement(db, world, source, reference="P-1", **setup)
    with pytest.raises(TransitionRefused) as refused:
        await services.transition(db, coordinator(world), agreement_id, TransitionIn(to=target, version=1, note=note), on=TODAY)
    assert reason in refused.value.detail
    assert (await services.get_agreement(db, coordinator(world), agreement_id)).status == source.value


async def test_signing_sets_the_signing_date_from_the_parties(db, world):
    agreement_id = await make_agreement(db, world, S.NEGOTIATING, reference="S-1", expires_on=None)
    await services.transition(db, coordinator(world), agreement_id, TransitionIn(to=S.SIGNED, version=1), on=TODAY)
    assert (await services.get_agreement(db, coordinator(world), agreement_id)).signed_on == date(2019, 12, 1)


async def test_refused_transition_over_the_api_is_409_with_the_reason(client_for, world):
    coordinator_client = await client_for("coordinator")
    created = (
        await coordinator_client.api(
            "POST",
            "/api/v1/agreements",
            json={
                "reference": "API-1",
                "title": "T",
                "kind": "other",
                "parties": [{"institution_id": str(world.home)}, {"institution_id": str(world.nlc)}],
            },
        )
    ).json()
    response = await coordinator_client.api("POST", f"/api/v1/agreements/{created['id']}/transition", json={"to": "in_force", "version": 1})
    assert response.status_code == 409
    assert response.json()["detail"].startswith("An agreement that is draft cannot become in force")
    page = await coordinator_client.form(f"/agreements/{created['id']}/transition", {"to": "signed", "version": "1"})
    assert page.status_code == 409
    assert "cannot become signed" in page.text
