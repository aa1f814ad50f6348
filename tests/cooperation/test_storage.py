"""Files in an S3-compatible object store: photos and their thumbnails served from the bucket, a report with
photos rendered from it, a missing object answered 404; `coop storage migrate` from the local directory to a bucket,
resumable and checked; a backup of an instance whose files are in a bucket restored into an empty one."""

import asyncio
import dataclasses
import hashlib
import io
import subprocess
import sys

import pytest
from PIL import Image

from cooperation import backup, files
from cooperation.settings import PROJECT_ROOT
from tests.agreements.helpers import agreement_payload

pytestmark = pytest.mark.parametrize("backend", ["sqlite"], indirect=True)

PDF = b"%PDF-1.4\n1 0 obj<</Type/Catalog>>endobj\ntrailer<</Root 1 0 R>>\n%%EOF\n"


@pytest.fixture
def settings(settings, object_store):
    return object_store.settings(settings)


def _jpeg(colour: str) -> bytes:
    out = io.BytesIO()
    Image.new("RGB", (640, 480), colour).save(out, format="JPEG")
    return out.getvalue()


async def test_photos_and_reports_from_a_bucket(client_for, world, story, settings, app):
    coordinator = await client_for("coordinator")
    visit_id = story["visit"]["id"]
    added = await coordinator.api(
        "POST",
        f"/api/v1/visits/{visit_id}/photos",
        files={"file": ("welcome.jpg", _jpeg("red"), "image/jpeg")},
        data={"caption": "Đón đoàn"},
    )
    assert added.status_code == 201, added.text
    photo = added.json()
    thumbnail = await coordinator.get(f"/visits/photos/{photo['id']}/thumbnail")
    assert thumbnail.status_code == 200 and thumbnail.headers["content-type"] == "image/jpeg"
    assert thumbnail.headers["content-disposition"] == "inline" and thumbnail.content[:2] == b"\xff\xd8"
    # Nothing on the local disk: the bucket holds the photo, its thumbnail.
    assert not settings.files_dir.exists()
    stored = [d async for d in files.storage(settings).digests()]
    assert hashlib.sha256(thumbnail.content).hexdigest() in stored and len(stored) == 2
    # The visit's PDF embeds the thumbnail read from the bucket.
    asked = await coordinator.api("POST", "/api/v1/reports", json={"kind": "visit", "scope_id": visit_id, "language": "vi"})
    assert asked.status_code == 202, asked.text
    await app.state.reports.drain()
    run = (await coordinator.api("GET", f"/api/v1/reports/{asked.json()['id']}")).json()
    assert run["status"] == "ready", run
    pdf = await coordinator.get(run["download_url"])
    assert pdf.status_code == 200 and pdf.content.startswith(b"%PDF") and b"/Subtype /Image" in pdf.content
    assert hashlib.sha256(pdf.content).hexdigest() in [d async for d in files.storage(settings).digests()]


async def test_an_object_gone_from_the_bucket_is_a_404(client_for, world, settings):
    coordinator = await client_for("coordinator")
    agreement = (await coordinator.api("POST", "/api/v1/agreements", json=agreement_payload([world.home, world.nlc]))).json()
    uploaded = (
        await coordinator.api("POST", f"/api/v1/attachments/agreement/{agreement['id']}", files={"file": ("a.pdf", PDF, "application/pdf")})
    ).json()
    store = files.storage(settings)
    assert isinstance(store, files.S3Storage)
    async with store.client() as s3:
        await s3.delete_object(Bucket=store.bucket, Key=store.key(uploaded["sha256"]))
    gone = await coordinator.get(f"/attachments/{uploaded['id']}")
    assert gone.status_code == 404


async def test_storage_migrate_to_a_bucket_is_resumable_and_checked(settings, object_store, tmp_path):
    local = files.LocalStorage(tmp_path / "files")
    contents = [f"document {n}".encode() for n in range(5)]
    for content in contents:
        await local.put(hashlib.sha256(content).hexdigest(), content)
    # A file whose content is not its name (a disk fault): listed, not copied.
    damaged = hashlib.sha256(b"what it was").hexdigest()
    (local.root / damaged[:2]).mkdir(parents=True, exist_ok=True)
    (local.root / damaged[:2] / damaged).write_bytes(b"what it became")
    target = files.storage(settings)
    # An earlier run copied two of them before it was interrupted.
    for content in contents[:2]:
        await target.put(hashlib.sha256(content).hexdigest(), content)
    done = await files.migrate(local, target)
    assert (done.copied, done.present, done.damaged) == (3, 2, [damaged])
    assert sorted([d async for d in target.digests()]) == sorted(hashlib.sha256(c).hexdigest() for c in contents)
    again = await files.migrate(local, target)
    assert (again.copied, again.present) == (0, 5)
    # A wrong name is refused by the store itself, whatever the caller says.
    with pytest.raises(files.StorageError):
        await target.put("0" * 64, b"not that")


def test_the_storage_command(settings, tmp_path):
    """`coop storage migrate --to s3://…` from the local store, as an operator runs it."""
    source = tmp_path / "data"
    (source / "files" / "ab").mkdir(parents=True)
    content = b"a stored photo"
    digest = hashlib.sha256(content).hexdigest()
    (source / "files" / digest[:2]).mkdir(parents=True, exist_ok=True)
    (source / "files" / digest[:2] / digest).write_bytes(content)
    env = {
        "PATH": "/usr/bin:/bin",
        "COOP_DATA_DIR": str(source),
        "COOP_DATABASE_URL": f"sqlite+aiosqlite:///{tmp_path / 'coop.db'}",
        "COOP_S3_ENDPOINT": settings.s3_endpoint,
        "COOP_S3_REGION": "us-east-1",
        "COOP_S3_ACCESS_KEY_ID": "test",
        "COOP_S3_SECRET_ACCESS_KEY": "test",
    }
    command = [sys.executable, "-m", "cooperation.cli", "storage", "migrate", "--to", settings.storage_url]
    done = subprocess.run(command, cwd=PROJECT_ROOT, env=env, capture_output=True, text=True, timeout=120)
    assert done.returncode == 0, done.stderr
    assert "1 files copied" in done.stdout and f"COOP_STORAGE_URL={settings.storage_url}" in done.stdout
    assert asyncio.run(files.storage(settings).get(digest)) == content


async def test_a_backup_of_a_bucket_restores_into_another(client_for, world, settings, object_store, tmp_path):
    coordinator = await client_for("coordinator")
    agreement = (await coordinator.api("POST", "/api/v1/agreements", json=agreement_payload([world.home, world.nlc]))).json()
    for n in range(3):
        document = {"file": (f"signed-{n}.pdf", PDF + bytes([n]), "application/pdf")}
        assert (await coordinator.api("POST", f"/api/v1/attachments/agreement/{agreement['id']}", files=document)).status_code == 201
    archive = tmp_path / "libcoop.tar"
    summary = await asyncio.to_thread(backup.backup, settings, archive)
    assert summary.files == 3
    target = object_store.settings(dataclasses.replace(settings, database_url=f"sqlite+aiosqlite:///{tmp_path / 'restored.db'}"))
    restored = await asyncio.to_thread(backup.restore, target, archive)
    assert restored.files == 3
    source_files = {d: await files.storage(settings).get(d) async for d in files.storage(settings).digests()}
    assert {d: await files.storage(target).get(d) async for d in files.storage(target).digests()} == source_files


async def test_an_object_store_that_does_not_answer_is_a_503_and_nothing_is_recorded(client_for, world, settings, app):
    """The store down (here: an address where nothing listens): an upload is refused 503 with Retry-After, and no row
    names a file that was never stored."""
    import socket

    from sqlalchemy import func, select

    from cooperation.app import create_app
    from tests.conftest import Client, http_client

    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        closed = s.getsockname()[1]
    coordinator = await client_for("coordinator")
    agreement = (await coordinator.api("POST", "/api/v1/agreements", json=agreement_payload([world.home, world.nlc]))).json()
    down = create_app(dataclasses.replace(settings, s3_endpoint=f"http://127.0.0.1:{closed}"))
    try:
        async with http_client(down) as raw:
            same_person = Client(raw)
            await same_person.sign_in(world.users["coordinator"])
            refused = await same_person.api(
                "POST", f"/api/v1/attachments/agreement/{agreement['id']}", files={"file": ("a.pdf", PDF, "application/pdf")}
            )
    finally:
        await down.state.engine.dispose()
    assert refused.status_code == 503 and refused.headers["retry-after"] == "5", refused.text
    async with app.state.session_factory() as session:
        assert await session.scalar(select(func.count()).select_from(files.Attachment)) == 0
