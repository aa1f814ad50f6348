"""Agreements through the JSON API: create, read back, edit with optimistic locking, archive/restore, audit."""

import uuid
from datetime import date

from sqlalchemy import select

from cooperation.audit import AuditEvent
from tests.agreements.helpers import agreement_payload


async def test_create_and_read_back_with_native_scripts(client_for, world):
    coordinator = await client_for("coordinator")
    payload = agreement_payload(
        [world.home, world.nlc],
        title="Thỏa thuận hợp tác giữa Thư viện Quốc gia Việt Nam và Thư viện Quốc gia Trung Quốc",
        title_native="中越国家图书馆合作协议",
        summary="Hợp tác số hóa sách cổ · 古籍数字化合作",
    )
    payload["parties"][0]["signatory_name"] = "Nguyễn Xuân Dũng"
    created = await coordinator.api("POST", "/api/v1/agreements", json=payload)
    assert created.status_code == 201, created.text
    body = created.json()
    assert body["status"] == "draft"
    assert body["version"] == 1
    fetched = (await coordinator.api("GET", f"/api/v1/agreements/{body['id']}")).json()
    assert fetched["title"] == payload["title"]
    assert fetched["title_native"] == "中越国家图书馆合作协议"
    assert fetched["summary"] == "Hợp tác số hóa sách cổ · 古籍数字化合作"
    assert [p["code"] for p in fetched["parties"]] == ["NLV", "NLC"]
    assert fetched["parties"][0]["signatory_name"] == "Nguyễn Xuân Dũng"
    assert fetched["parties"][1]["name_native"] == "中国国家图书馆"
    page = await coordinator.get(f"/agreements/{body['id']}")
    assert "中越国家图书馆合作协议" in page.text and "Nguyễn Xuân Dũng" in page.text


async def test_text_is_stored_in_nfc(client_for, world):
    coordinator = await client_for("coordinator")
    decomposed = "Thu\u031b vie\u0323\u0302n"  # "Thư viện" typed with combining marks
    created = await coordinator.api("POST", "/api/v1/agreements", json=agreement_payload([world.home, world.nlc], title=decomposed))
    assert created.json()["title"] == "Thư viện"


async def test_invalid_input_names_each_field(client_for, world):
    coordinator = await client_for("coordinator")
    payload = agreement_payload([world.home], effective_on="2030-01-01", expires_on="2025-01-01", auto_renew=True)
    response = await coordinator.api("POST", "/api/v1/agreements", json=payload)
    assert response.status_code == 422
    assert response.headers["content-type"].startswith("application/problem+json")
    errors = response.json()["errors"]
    assert errors["parties"] == "an agreement needs at least two parties"
    assert errors["expires_on"]
    assert errors["renewal_term_months"]
    wrong_type = await coordinator.api("POST", "/api/v1/agreements", json={**payload, "kind": "treaty"})
    assert wrong_type.status_code == 400
    assert "kind" in wrong_type.json()["errors"]
    listed = (await coordinator.api("GET", "/api/v1/agreements")).json()
    assert listed["total"] == 0


async def test_duplicate_reference_is_refused(client_for, world):
    coordinator = await client_for("coordinator")
    assert (await coordinator.api("POST", "/api/v1/agreements", json=agreement_payload([world.home, world.nlc]))).status_code == 201
    again = await coordinator.api("POST", "/api/v1/agreements", json=agreement_payload([world.home, world.bnf]))
    assert again.status_code == 422
    assert "already used" in again.json()["errors"]["reference"]


async def test_stale_update_answers_409_and_overwrites_nothing(client_for, world, db):
    coordinator = await client_for("coordinator")
    created = (await coordinator.api("POST", "/api/v1/agreements", json=agreement_payload([world.home, world.nlc]))).json()
    first = await coordinator.api(
        "PUT", f"/api/v1/agreements/{created['id']}", json={**agreement_payload([world.home, world.nlc], title="First edit"), "version": 1}
    )
    assert first.status_code == 200
    assert first.json()["version"] == 2
    stale = await coordinator.api(
        "PUT", f"/api/v1/agreements/{created['id']}", json={**agreement_payload([world.home, world.bnf], title="Stale edit"), "version": 1}
    )
    assert stale.status_code == 409
    assert stale.json()["errors"]["version"]
    current = (await coordinator.api("GET", f"/api/v1/agreements/{created['id']}")).json()
    assert current["title"] == "First edit"
    assert [p["code"] for p in current["parties"]] == ["NLV", "NLC"]
    assert current["version"] == 2


async def test_archive_and_restore(client_for, world):
    coordinator = await client_for("coordinator")
    created = (await coordinator.api("POST", "/api/v1/agreements", json=agreement_payload([world.home, world.nlc]))).json()
    archived = await coordinator.api("POST", f"/api/v1/agreements/{created['id']}/archive", json={"version": 1})
    assert archived.status_code == 200 and archived.json()["archived"] is True
    assert (await coordinator.api("GET", "/api/v1/agreements")).json()["total"] == 0
    assert (await coordinator.api("GET", "/api/v1/agreements?archived=true")).json()["total"] == 1
    again = await coordinator.api("POST", f"/api/v1/agreements/{created['id']}/archive", json={"version": 2})
    assert again.status_code == 409
    restored = await coordinator.api("POST", f"/api/v1/agreements/{created['id']}/restore", json={"version": 2})
    assert restored.status_code == 200 and restored.json()["archived"] is False
    assert (await coordinator.api("GET", "/api/v1/agreements")).json()["total"] == 1
    history = (await coordinator.api("GET", f"/api/v1/agreements/{created['id']}/history")).json()
    assert [h["action"] for h in history][:3] == ["restore", "archive", "create"]


async def test_audit_event_is_written_with_the_change_and_not_without_it(client_for, world, db):
    coordinator = await client_for("coordinator")
    created = (await coordinator.api("POST", "/api/v1/agreements", json=agreement_payload([world.home, world.nlc]))).json()
    await coordinator.api(
        "PUT", f"/api/v1/agreements/{created['id']}", json={**agreement_payload([world.home, world.nlc], title="Renamed"), "version": 1}
    )
    failed = await coordinator.api(
        "PUT", f"/api/v1/agreements/{created['id']}", json={**agreement_payload([world.home, world.nlc], title="Lost"), "version": 1}
    )
    assert failed.status_code == 409
    events = (
        (await db.execute(select(AuditEvent).where(AuditEvent.entity_id == uuid.UUID(created["id"])).order_by(AuditEvent.occurred_at)))
        .scalars()
        .all()
    )
    assert [e.action for e in events] == ["create", "update"]
    assert events[1].changes["title"] == ["Cooperation Agreement between NLV and NLC", "Renamed"]
    assert events[1].actor_name == "Coordinator"


async def test_terms_are_fixed_once_signed(client_for, world):
    coordinator = await client_for("coordinator")
    created = (
        await coordinator.api("POST", "/api/v1/agreements", json=agreement_payload([world.home, world.nlc], signed=date(2025, 4, 10)))
    ).json()
    for target, version in (("negotiating", 1), ("signed", 2)):
        assert (
            await coordinator.api("POST", f"/api/v1/agreements/{created['id']}/transition", json={"to": target, "version": version})
        ).status_code == 200
    edit = await coordinator.api(
        "PUT", f"/api/v1/agreements/{created['id']}", json={**agreement_payload([world.home, world.nlc]), "version": 3}
    )
    assert edit.status_code == 409
    assert "terms are fixed" in edit.json()["detail"]


async def test_director_reads_but_cannot_write(client_for, world):
    director = await client_for("director")
    assert (await director.api("GET", "/api/v1/agreements")).status_code == 200
    refused = await director.api("POST", "/api/v1/agreements", json=agreement_payload([world.home, world.nlc]))
    assert refused.status_code == 403
