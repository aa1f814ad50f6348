"""`coop backup FILE` and `coop restore FILE`: the database and the file store in one archive, checked on restore.

The archive is a tar file (uncompressed: photos and PDFs do not shrink, and the PostgreSQL dump is compressed
already) holding `database.sqlite` (SQLite's online backup API, so what is still in the WAL is included and writers
are not stopped) or `database.pgdump` (`pg_dump --format=custom`, one consistent snapshot), then every stored file
under `files/`, then `manifest.json` with each member's SHA-256. The database is copied first: files are
content-addressed and written before the rows that name them, so every file the snapshot names is in the archive.

Restore reads the whole archive and checks every checksum before it changes anything, and only into an empty
database (a fresh `createdb`, or a SQLite path with no tables): it never merges into or overwrites a live one.
"""

import asyncio
import hashlib
import io
import json
import os
import shutil
import sqlite3
import subprocess
import tarfile
import tempfile
from dataclasses import dataclass
from datetime import UTC, datetime
from pathlib import Path
from typing import IO, Any

from cooperation.files import LocalStorage, Storage, storage
from cooperation.settings import Settings

FORMAT = "libcoop-backup/1"
MANIFEST = "manifest.json"
CHUNK = 1024 * 1024


class BackupError(RuntimeError):
    """What went wrong, in words an operator can act on."""


@dataclass
class Summary:
    database: str  # sqlite or postgresql
    files: int
    bytes: int


def _kind(url: str) -> str:
    if url.startswith("sqlite"):
        return "sqlite"
    if url.startswith("postgresql"):
        return "postgresql"
    raise BackupError(f"cannot back up a database at {url.split(':', 1)[0]}")


def _sqlite_path(url: str) -> Path:
    path = url.split("///", 1)[1] if "///" in url else ""
    if not path or path == ":memory:":
        raise BackupError("an in-memory SQLite database has nothing to back up")
    return Path(path)


def _libpq_url(url: str) -> str:
    """pg_dump and pg_restore speak libpq: no SQLAlchemy driver in the scheme."""
    scheme, rest = url.split("://", 1)
    return f"postgresql://{rest}" if scheme.startswith("postgresql") else url


def _run(command: list[str], what: str) -> None:
    try:
        done = subprocess.run(command, capture_output=True, text=True, timeout=6 * 3600, check=False)
    except FileNotFoundError:
        raise BackupError(f"{command[0]} is not installed (apt-get install postgresql-client)") from None
    if done.returncode != 0:
        raise BackupError(f"{what} failed: {done.stderr.strip()[-800:]}")


def _sha256_file(path: Path) -> str:
    digest = hashlib.sha256()
    with path.open("rb") as handle:
        while chunk := handle.read(CHUNK):
            digest.update(chunk)
    return digest.hexdigest()


def _revision(settings: Settings) -> str | None:
    """The schema revision the database is at (recorded in the manifest, so an operator knows what restores it)."""

    from sqlalchemy import text

    from cooperation.db import create_engine

    async def read() -> str | None:
        engine = create_engine(settings.database_url)
        try:
            async with engine.connect() as conn:
                return str(await conn.scalar(text("SELECT version_num FROM alembic_version")))
        except Exception:
            return None
        finally:
            await engine.dispose()

    return asyncio.run(read())


def backup(settings: Settings, target: Path) -> Summary:
    kind = _kind(settings.database_url)
    target = target.resolve()
    target.parent.mkdir(parents=True, exist_ok=True)
    partial = target.with_name(target.name + ".part")
    checksums: dict[str, str] = {}
    total = 0
    with tempfile.TemporaryDirectory(prefix="coop-backup-", dir=target.parent) as work:
        if kind == "sqlite":
            dump = Path(work) / "database.sqlite"
            source = sqlite3.connect(_sqlite_path(settings.database_url))
            copy = sqlite3.connect(dump)
            try:
                source.backup(copy)  # one pass under a read transaction: a consistent copy while others write
            finally:
                copy.close()
                source.close()
        else:
            dump = Path(work) / "database.pgdump"
            _run(
                [
                    "pg_dump",
                    "--format=custom",
                    "--no-owner",
                    "--no-privileges",
                    f"--file={dump}",
                    f"--dbname={_libpq_url(settings.database_url)}",
                ],
                "pg_dump",
            )
        with tarfile.open(partial, "w", format=tarfile.PAX_FORMAT) as archive:
            checksums[dump.name] = _sha256_file(dump)
            total += dump.stat().st_size
            archive.add(dump, arcname=dump.name)
            files = 0
            store = storage(settings)
            if isinstance(store, LocalStorage):
                root = store.root
                if root.exists():
                    for path in sorted(root.rglob("*")):
                        if not path.is_file() or path.name.endswith(".part"):  # a file being written now: not yet named by a row
                            continue
                        name = f"files/{path.relative_to(root).as_posix()}"
                        checksums[name] = _sha256_file(path)
                        total += path.stat().st_size
                        archive.add(path, arcname=name)
                        files += 1
            else:  # an object store: each object read into the archive under the same layout
                files, size = asyncio.run(_add_objects(store, archive, checksums))
                total += size
            manifest = {
                "format": FORMAT,
                "created_at": datetime.now(UTC).isoformat(timespec="seconds"),
                "database": kind,
                "schema_revision": _revision(settings),
                "members": checksums,
            }
            payload = json.dumps(manifest, indent=2, sort_keys=True).encode()
            info = tarfile.TarInfo(MANIFEST)
            info.size = len(payload)
            info.mtime = int(datetime.now(UTC).timestamp())
            archive.addfile(info, io.BytesIO(payload))
    os.replace(partial, target)
    return Summary(kind, files, total)


async def _add_objects(store: Storage, archive: tarfile.TarFile, checksums: dict[str, str]) -> tuple[int, int]:
    """Every object of the store into the archive as `files/<ab>/<digest>` (as a local store keeps them)."""
    count = size = 0
    async for digest in store.digests():
        content = await store.get(digest)
        if hashlib.sha256(content).hexdigest() != digest:
            raise BackupError(f"the stored object {digest} does not match its name: the store is damaged")
        name = f"files/{digest[:2]}/{digest}"
        info = tarfile.TarInfo(name)
        info.size, info.mtime = len(content), int(datetime.now(UTC).timestamp())
        archive.addfile(info, io.BytesIO(content))
        checksums[name] = digest
        count, size = count + 1, size + len(content)
    return count, size


def verify(source: Path) -> dict[str, Any]:
    """Every member read and its SHA-256 compared with the manifest's; the manifest, or a BackupError naming what is
    wrong. Nothing is written."""
    if not source.is_file():
        raise BackupError(f"{source} is not a file")
    seen: dict[str, str] = {}
    manifest: dict[str, Any] | None = None
    try:
        with tarfile.open(source, "r:") as archive:
            for member in archive:
                handle = archive.extractfile(member) if member.isfile() else None
                if handle is None:
                    continue
                if member.name == MANIFEST:
                    manifest = json.loads(handle.read())
                    continue
                seen[member.name] = _sha256_stream(handle)
    except (tarfile.TarError, OSError, json.JSONDecodeError) as exc:
        raise BackupError(f"{source.name} is not a readable LibCoop backup ({exc})") from None
    if manifest is None or manifest.get("format") != FORMAT:
        raise BackupError(f"{source.name} has no LibCoop manifest ({FORMAT}): not a backup made by `coop backup`")
    expected: dict[str, str] = manifest["members"]
    missing = sorted(set(expected) - set(seen))
    extra = sorted(set(seen) - set(expected))
    damaged = sorted(name for name in set(expected) & set(seen) if expected[name] != seen[name])
    if missing or extra or damaged:
        problems = [
            f"{label}: {', '.join(names[:5])}" + (" …" if len(names) > 5 else "")
            for label, names in (("missing", missing), ("not in the manifest", extra), ("checksum differs", damaged))
            if names
        ]
        raise BackupError(f"{source.name} is damaged — " + "; ".join(problems) + ". Nothing was restored.")
    return manifest


def _sha256_stream(handle: IO[bytes]) -> str:
    digest = hashlib.sha256()
    while chunk := handle.read(CHUNK):
        digest.update(chunk)
    return digest.hexdigest()


def _require_empty(settings: Settings, kind: str) -> None:
    if kind == "sqlite":
        path = _sqlite_path(settings.database_url)
        if path.exists():
            with sqlite3.connect(path) as conn:
                tables = conn.execute("SELECT count(*) FROM sqlite_master WHERE type = 'table'").fetchone()[0]
            if tables:
                raise BackupError(f"{path} already holds tables: restore into a new, empty database file")
        return

    from sqlalchemy import text

    from cooperation.db import create_engine

    async def count() -> int:
        engine = create_engine(settings.database_url)
        try:
            async with engine.connect() as conn:
                return int(await conn.scalar(text("SELECT count(*) FROM information_schema.tables WHERE table_schema = 'public'")) or 0)
        finally:
            await engine.dispose()

    if asyncio.run(count()):
        raise BackupError("the database already holds tables: restore into a new, empty database (createdb)")


def restore(settings: Settings, source: Path) -> Summary:
    manifest = verify(source.resolve())
    kind = _kind(settings.database_url)
    if manifest["database"] != kind:
        raise BackupError(f"this backup is of a {manifest['database']} database; COOP_DATABASE_URL names a {kind} one")
    _require_empty(settings, kind)
    files = 0
    total = 0
    store = storage(settings)
    with tempfile.TemporaryDirectory(prefix="coop-restore-") as work, tarfile.open(source, "r:") as archive:
        for member in archive:
            if not member.isfile() or member.name == MANIFEST:
                continue
            handle = archive.extractfile(member)
            assert handle is not None
            total += member.size
            if member.name.startswith("files/"):
                relative = Path(member.name.removeprefix("files/"))
                if relative.is_absolute() or ".." in relative.parts:
                    raise BackupError(f"refused a member outside the file store: {member.name}")
                if not isinstance(store, LocalStorage):  # an object store: put, checked against its name on the way
                    asyncio.run(store.put(relative.name, handle))  # type: ignore[arg-type]  # a tar member reads as a file
                    files += 1
                    continue
                destination = store.root / relative
                destination.parent.mkdir(parents=True, exist_ok=True)
                partial = destination.with_name(destination.name + ".restoring.part")
                with partial.open("wb") as out:
                    shutil.copyfileobj(handle, out, CHUNK)
                os.replace(partial, destination)
                files += 1
            else:
                dump = Path(work) / Path(member.name).name
                with dump.open("wb") as out:
                    shutil.copyfileobj(handle, out, CHUNK)
                _restore_database(settings, kind, dump)
    return Summary(kind, files, total)


def _restore_database(settings: Settings, kind: str, dump: Path) -> None:
    if kind == "sqlite":
        path = _sqlite_path(settings.database_url)
        path.parent.mkdir(parents=True, exist_ok=True)
        copy, target = sqlite3.connect(dump), sqlite3.connect(path)
        try:
            copy.backup(target)
        finally:
            target.close()
            copy.close()
        return
    _run(
        [
            "pg_restore",
            "--no-owner",
            "--no-privileges",
            "--exit-on-error",
            "--single-transaction",
            f"--dbname={_libpq_url(settings.database_url)}",
            str(dump),
        ],
        "pg_restore",
    )
