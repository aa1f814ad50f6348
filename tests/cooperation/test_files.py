"""Attachments: size cap, type sniffed from content, stored outside the web root, served as attachment — in a local
directory and in an S3-compatible object store (moto's server on loopback), the same tests."""

import hashlib

import pytest

from cooperation import files
from tests.agreements.helpers import agreement_payload


@pytest.fixture(params=["local", "s3"])
def settings(request, settings, object_store):
    return settings if request.param == "local" else object_store.settings(settings)


async def _stored(settings) -> list[str]:
    return [digest async for digest in files.storage(settings).digests()]


PDF = b"%PDF-1.4\n1 0 obj<</Type/Catalog>>endobj\ntrailer<</Root 1 0 R>>\n%%EOF\n"
PNG = bytes.fromhex("89504e470d0a1a0a0000000d4948445200000001000000010806000000") + b"\x00" * 40


async def _agreement(client, world, parties=None):
    response = await client.api("POST", "/api/v1/agreements", json=agreement_payload(parties or [world.home, world.nlc]))
    return response.json()["id"]


async def test_upload_download_round_trip(client_for, world, settings):
    coordinator = await client_for("coordinator")
    agreement_id = await _agreement(coordinator, world)
    response = await coordinator.api(
        "POST",
        f"/api/v1/attachments/agreement/{agreement_id}",
        files={"file": ("Bản ký - 协议.pdf", PDF, "application/octet-stream")},
        data={"title": "Signed copy (Vietnamese)", "language": "vi"},
    )
    assert response.status_code == 201, response.text
    body = response.json()
    assert body["content_type"] == "application/pdf"
    assert body["sha256"] == hashlib.sha256(PDF).hexdigest()
    assert body["filename"] == "Bản ký - 协议.pdf"
    assert await files.storage(settings).get(body["sha256"]) == PDF
    assert await _stored(settings) == [body["sha256"]]
    download = await coordinator.get(f"/attachments/{body['id']}")
    assert download.status_code == 200
    assert download.content == PDF
    assert download.headers["content-disposition"].startswith("attachment")
    assert download.headers["x-content-type-options"] == "nosniff"
    page = await coordinator.get(f"/agreements/{agreement_id}")
    assert "Signed copy (Vietnamese)" in page.text


async def test_too_large_is_refused_and_nothing_is_stored(client_for, world, settings):
    coordinator = await client_for("coordinator")
    agreement_id = await _agreement(coordinator, world)
    big = PDF + b"0" * settings.upload_max_bytes
    response = await coordinator.api(
        "POST", f"/api/v1/attachments/agreement/{agreement_id}", files={"file": ("big.pdf", big, "application/pdf")}
    )
    assert response.status_code == 422
    assert "limit" in response.json()["errors"]["file"]
    assert await _stored(settings) == []


async def test_type_is_sniffed_not_trusted(client_for, world):
    coordinator = await client_for("coordinator")
    agreement_id = await _agreement(coordinator, world)
    html = await coordinator.api(
        "POST",
        f"/api/v1/attachments/agreement/{agreement_id}",
        files={"file": ("agreement.pdf", b"<html><script>alert(1)</script></html>", "application/pdf")},
    )
    assert html.status_code == 422
    assert "not a recognised document" in html.json()["errors"]["file"]
    renamed = await coordinator.api(
        "POST", f"/api/v1/attachments/agreement/{agreement_id}", files={"file": ("photo.pdf", PNG, "application/pdf")}
    )
    assert renamed.status_code == 422
    assert "named .pdf but its content is PNG image" in renamed.json()["errors"]["file"]
    exe = await coordinator.api(
        "POST", f"/api/v1/attachments/agreement/{agreement_id}", files={"file": ("a.txt", b"MZ\x90\x00\x03" + b"\x00" * 60, "text/plain")}
    )
    assert exe.status_code == 422


async def test_upload_form_shows_the_error_on_the_page(client_for, world):
    coordinator = await client_for("coordinator")
    agreement_id = await _agreement(coordinator, world)
    response = await coordinator.raw.post(
        f"/attachments/agreement/{agreement_id}",
        data={"_csrf_token": await coordinator.csrf()},
        files={"file": ("notes.pdf", b"plain words", "application/pdf")},
    )
    assert response.status_code == 422
    assert "not a recognised document" in response.text


async def test_documents_follow_the_record_visibility(client_for, world):
    coordinator = await client_for("coordinator")
    agreement_id = await _agreement(coordinator, world)
    internal = (
        await coordinator.api("POST", f"/api/v1/attachments/agreement/{agreement_id}", files={"file": ("i.pdf", PDF, "application/pdf")})
    ).json()
    assert internal["audience"] == "department"  # staff's files are the department's until shared
    uploaded = (
        await coordinator.api(
            "POST",
            f"/api/v1/attachments/agreement/{agreement_id}",
            files={"file": ("a.pdf", PDF, "application/pdf")},
            data={"audience": "partners"},
        )
    ).json()
    partner_a = await client_for("partner_a")
    partner_b = await client_for("partner_b")
    assert (await partner_a.get(f"/attachments/{internal['id']}")).status_code == 404
    assert (await partner_a.get(f"/attachments/{uploaded['id']}")).status_code == 200
    assert (await partner_b.get(f"/attachments/{uploaded['id']}")).status_code == 404
    refused = await partner_b.api(
        "POST", f"/api/v1/attachments/agreement/{agreement_id}", files={"file": ("b.pdf", PDF, "application/pdf")}
    )
    assert refused.status_code == 404
    own = await partner_a.api("POST", f"/api/v1/attachments/agreement/{agreement_id}", files={"file": ("nlc.pdf", PDF, "application/pdf")})
    assert own.status_code == 201
