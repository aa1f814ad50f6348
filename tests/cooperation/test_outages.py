"""The database stops answering: a 503 with Retry-After before anything was written;
a write that committed is never answered with an error."""

from sqlalchemy import func, select
from sqlalchemy.exc import OperationalError

from agreements import services as agreement_services
from agreements.models import Agreement
from tests.agreements.helpers import agreement_payload


def _gone(*args, **kwargs):
    raise OperationalError("SELECT …", {}, ConnectionRefusedError(111, "Connection refused"))


async def test_a_write_that_committed_is_answered_as_saved_when_the_read_back_fails(client_for, world, db, monkeypatch):
    coordinator = await client_for("coordinator")
    monkeypatch.setattr(agreement_services, "get_agreement", _gone)
    created = await coordinator.api("POST", "/api/v1/agreements", json=agreement_payload([world.home, world.nlc], reference="NLV-NLC-OUT"))
    assert created.status_code == 201, created.text
    assert created.json()["status"] == "saved" and "Reading it back failed" in created.json()["detail"]
    assert await db.scalar(select(func.count()).select_from(Agreement).where(Agreement.reference == "NLV-NLC-OUT")) == 1


async def test_an_outage_before_the_commit_is_a_503_to_retry_and_nothing_is_written(client_for, world, db, monkeypatch):
    coordinator = await client_for("coordinator")
    monkeypatch.setattr(agreement_services, "_clean", _gone)
    refused = await coordinator.api("POST", "/api/v1/agreements", json=agreement_payload([world.home, world.nlc], reference="NLV-NLC-503"))
    assert refused.status_code == 503 and refused.headers["retry-after"] == "5"
    assert refused.headers["content-type"].startswith("application/problem+json") and refused.json()["title"] == "Unavailable"
    page = await coordinator.get("/agreements?q=x")
    assert page.status_code == 200  # the reading pages do not go through _clean
    assert await db.scalar(select(func.count()).select_from(Agreement).where(Agreement.reference == "NLV-NLC-503")) == 0
