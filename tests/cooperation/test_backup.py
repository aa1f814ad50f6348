"""`coop backup` and `coop restore`: a populated instance is backed up while it serves writes,
restored into an empty one, and every table and stored file compared; a damaged archive restores nothing."""

import asyncio
import json
import subprocess
import sys
import tarfile
from dataclasses import replace
from pathlib import Path

import pytest
from sqlalchemy import select
from sqlmodel import SQLModel

from cooperation import backup, demo, migrate
from cooperation.app import demo_loaders
from cooperation.db import create_engine
from cooperation.settings import PROJECT_ROOT
from tests.conftest import Client, fresh_pg_database, http_client

PDF = b"%PDF-1.4\n1 0 obj<</Type/Catalog>>endobj\ntrailer<</Root 1 0 R>>\n%%EOF\n"


@pytest.fixture
def empty_target(backend, tmp_path):
    """Settings for a second, empty instance on the same kind of database."""
    if backend == "sqlite":
        yield f"sqlite+aiosqlite:///{tmp_path / 'restored' / 'coop.db'}"
        return
    with fresh_pg_database("libcoop_restore") as url:
        yield url


async def _rows(url: str) -> dict[str, set[str]]:
    """Every row of every table, as comparable text."""
    engine = create_engine(url)
    tables: dict[str, set[str]] = {}
    try:
        async with engine.connect() as conn:
            for table in SQLModel.metadata.sorted_tables:
                result = await conn.execute(select(table))
                tables[table.name] = {json.dumps([str(v) for v in row], ensure_ascii=False) for row in result}
    finally:
        await engine.dispose()
    return tables


def _files(root: Path) -> dict[str, bytes]:
    return {p.relative_to(root).as_posix(): p.read_bytes() for p in root.rglob("*") if p.is_file()} if root.exists() else {}


async def test_a_backup_taken_while_serving_writes_restores_every_table_and_file(app, settings, empty_target, tmp_path):
    await demo.load(app.state.session_factory, demo_loaders())
    async with http_client(app) as raw:
        coordinator = Client(raw)
        await coordinator.sign_in(f"coordinator@{demo.DEMO_DOMAIN}", demo.DEMO_PASSWORD)
        await _backup_while_writing(coordinator, settings, empty_target, tmp_path)


async def _backup_while_writing(coordinator, settings, empty_target, tmp_path) -> None:
    agreements = (await coordinator.api("GET", "/api/v1/agreements?per_page=3")).json()["items"]
    for n, agreement in enumerate(agreements):
        document = {"file": (f"signed-{n}.pdf", PDF + bytes([n]), "application/pdf")}
        uploaded = await coordinator.api("POST", f"/api/v1/attachments/agreement/{agreement['id']}", files=document)
        assert uploaded.status_code == 201, uploaded.text
    before = await _rows(settings.database_url)
    files_before = _files(settings.files_dir)
    assert len(files_before) == 3

    writing = True

    async def keep_writing() -> int:
        made = 0
        while writing:
            created = await coordinator.api(
                "POST", "/api/v1/institutions", json={"code": f"W{made:05d}", "name": f"Library {made}", "country": "FR"}
            )
            assert created.status_code == 201, created.text
            made += 1
            await asyncio.sleep(0)
        return made

    writer = asyncio.ensure_future(keep_writing())
    archive = tmp_path / "backups" / "libcoop.tar"
    try:
        summary = await asyncio.to_thread(backup.backup, settings, archive)
    finally:
        writing = False
        made = await writer
    assert made > 0 and summary.files == 3 and archive.exists()
    after = await _rows(settings.database_url)

    target = replace(settings, database_url=empty_target, data_dir=tmp_path / "restored")
    restored = await asyncio.to_thread(backup.restore, target, archive)
    assert restored.files == 3
    copy = await _rows(empty_target)
    for name, rows in copy.items():
        # What the backup holds is what the source held at one moment: everything from before it, nothing invented.
        assert before[name] <= rows <= after[name], name
    code = list(SQLModel.metadata.tables["institution"].columns.keys()).index("code")
    written = sorted(json.loads(r)[code] for r in copy["institution"] - before["institution"])  # the codes made meanwhile
    assert written == [f"W{n:05d}" for n in range(len(written))]  # a prefix: one consistent snapshot
    assert _files(target.files_dir) == files_before
    await asyncio.to_thread(migrate.upgrade, empty_target)  # a no-op: the restored database is at the head already

    again = await asyncio.to_thread(_restore_refused, target, archive)
    assert "already holds tables" in again


def _restore_refused(settings, archive) -> str:
    with pytest.raises(backup.BackupError) as refused:
        backup.restore(settings, archive)
    return str(refused.value)


def test_a_damaged_archive_restores_nothing(tmp_path, database_urls):
    source = replace_settings(tmp_path / "source", database_urls["sqlite"])
    source.files_dir.mkdir(parents=True)
    (source.files_dir / "ab").mkdir()
    (source.files_dir / "ab" / "ab12").write_bytes(b"a photo")
    archive = tmp_path / "good.tar"
    backup.backup(source, archive)
    damaged = tmp_path / "damaged.tar"
    with tarfile.open(archive) as good, tarfile.open(damaged, "w") as bad:
        for member in good:
            data = good.extractfile(member).read()
            if member.name == "files/ab/ab12":
                data = b"a phot0"
            member.size = len(data)
            bad.addfile(member, __import__("io").BytesIO(data))
    target = replace_settings(tmp_path / "target", f"sqlite+aiosqlite:///{tmp_path / 'target' / 'coop.db'}")
    with pytest.raises(backup.BackupError, match="checksum differs: files/ab/ab12"):
        backup.restore(target, damaged)
    assert not (tmp_path / "target" / "coop.db").exists() and not target.files_dir.exists()
    command = [sys.executable, "-m", "cooperation.cli", "restore", str(damaged)]
    env = {"COOP_DATABASE_URL": target.database_url, "COOP_DATA_DIR": str(target.data_dir), "COOP_ENV": "test", "PATH": "/usr/bin:/bin"}
    cli = subprocess.run(command, cwd=PROJECT_ROOT, env=env, capture_output=True, text=True, timeout=120)
    assert cli.returncode != 0 and "restore refused" in cli.stderr and "checksum differs" in cli.stderr


def replace_settings(data_dir: Path, url: str):
    from cooperation.settings import Settings

    return Settings(environment="test", secret_key="test-secret-" + "x" * 40, database_url=url, data_dir=data_dir, log_level="WARNING")
