"""Twenty people saving the same thing at the same moment: exactly one record is created, the
others are told which field conflicts (409, or 422 when the service's own check already sees the first) — never a
500 — and nothing is half-written."""

import asyncio
from collections import Counter

from sqlalchemy import func, select

from agreements.models import Agreement
from cooperation.partners.models import Institution
from programs.models import ProgressReport
from tests.agreements.helpers import agreement_payload

AT_ONCE = 20


async def _at_once(client_for, method: str, path: str, payload: dict) -> list:
    clients = [await client_for("coordinator") for _ in range(4)]
    return await asyncio.gather(*(clients[n % 4].api(method, path, json=payload) for n in range(AT_ONCE)))


def _check(answers: list, field: str) -> None:
    statuses = Counter(a.status_code for a in answers)
    assert statuses[201] == 1 and set(statuses) <= {201, 409, 422}, statuses
    for answer in answers:
        if answer.status_code in (409, 422):
            assert field in answer.json().get("errors", {}), answer.text


async def test_the_same_institution_code_twenty_times_at_once(client_for, db):
    payload = {"code": "KB", "name": "Koninklijke Bibliotheek", "country": "NL"}
    _check(await _at_once(client_for, "POST", "/api/v1/institutions", payload), "code")
    assert await db.scalar(select(func.count()).select_from(Institution).where(Institution.code == "KB")) == 1


async def test_the_same_agreement_reference_twenty_times_at_once(client_for, db, world):
    payload = agreement_payload([world.home, world.nlc], reference="NLV-NLC-RACE")
    _check(await _at_once(client_for, "POST", "/api/v1/agreements", payload), "reference")
    assert await db.scalar(select(func.count()).select_from(Agreement).where(Agreement.reference == "NLV-NLC-RACE")) == 1


async def test_the_same_progress_date_twenty_times_at_once(client_for, db, world):
    coordinator = await client_for("coordinator")
    project = await coordinator.api(
        "POST",
        "/api/v1/projects",
        json={"name": "Race", "lead_institution_id": str(world.nlc), "starts_on": "2025-01-01", "ends_on": "2026-12-31"},
    )
    assert project.status_code == 201, project.text
    payload = {"institution_id": str(world.nlc), "as_of": "2025-05-31", "volumes": 100}
    answers = await _at_once(client_for, "POST", f"/api/v1/projects/{project.json()['id']}/progress", payload)
    statuses = Counter(a.status_code for a in answers)
    assert statuses[201] == 1 and set(statuses) <= {201, 409, 422}, statuses
    assert await db.scalar(select(func.count()).select_from(ProgressReport)) == 1
