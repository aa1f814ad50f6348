"""Day one: an empty instance is set up once — by `coop setup`, or on the /setup page with the one-time code the
server printed — with its home institution and first administrator; the home institution can be changed by an
administrator only."""

import os
import re
import subprocess
import sys

import httpx
from sqlalchemy import func, select

from cooperation.audit import AuditEvent
from cooperation.auth.models import User
from cooperation.partners.models import Institution
from cooperation.settings import PROJECT_ROOT
from tests.conftest import Client

ADMIN_PASSWORD = "a long admin passphrase"


def _coop(settings, *args: str, password: str | None = ADMIN_PASSWORD) -> subprocess.CompletedProcess[str]:
    env = os.environ | {"COOP_DATABASE_URL": settings.database_url, "COOP_DATA_DIR": str(settings.data_dir), "COOP_ENV": "test"}
    env.pop("COOP_ADMIN_PASSWORD", None)
    if password is not None:
        env["COOP_ADMIN_PASSWORD"] = password
    command = [sys.executable, "-m", "cooperation.cli", *args]
    return subprocess.run(command, cwd=PROJECT_ROOT, env=env, capture_output=True, text=True, timeout=120, stdin=subprocess.DEVNULL)


SETUP = [
    "setup",
    "--home-code", "nlv",
    "--home-name", "National Library of Vietnam",
    "--home-name-native", "Thư viện Quốc gia Việt Nam",
    "--country", "vn",
    "--admin-name", "Nguyễn Thị Hà",
    "--admin-email", "ha@nlv.gov.vn",
]  # fmt: skip


async def test_coop_setup_once_on_an_empty_database(app, settings, db):
    weak = _coop(settings, *SETUP, password="password1234")
    assert weak.returncode != 0 and "most common passwords" in weak.stderr
    done = _coop(settings, *SETUP)
    assert done.returncode == 0, done.stderr
    assert "NLV is the home institution" in done.stdout
    home = (await db.execute(select(Institution).where(Institution.is_home.is_(True)))).scalars().one()
    assert (home.code, home.name_native, home.country) == ("NLV", "Thư viện Quốc gia Việt Nam", "VN")
    admin = (await db.execute(select(User).where(User.email == "ha@nlv.gov.vn"))).scalars().one()
    assert admin.role == "admin" and admin.institution_id == home.id and admin.password_hash.startswith("$argon2id$")
    again = _coop(settings, *SETUP)
    assert again.returncode != 0 and "already set up" in again.stderr and "Make this the home institution" in again.stderr
    assert await db.scalar(select(func.count()).select_from(User)) == 1
    missing = _coop(settings, "setup", "--home-code", "X")
    assert missing.returncode != 0 and "--home-name" in missing.stderr


def _browser(app, address: str) -> Client:
    transport = httpx.ASGITransport(app=app, client=(address, 50000))
    return Client(httpx.AsyncClient(transport=transport, base_url="http://127.0.0.1:8000"))


async def test_the_setup_page_needs_the_code_printed_on_the_server_whatever_the_addresses(app, settings, db):
    """Behind the documented proxy the server listens on 127.0.0.1 and a remote visitor looks local: the address
    proves nothing. Only the one-time code `coop setup --print-code` (or `coop serve`) prints makes a first run."""
    visitor = _browser(app, "203.0.113.9")  # anyone, from anywhere
    try:
        assert (await visitor.get("/login", follow_redirects=False)).headers["location"] == "/setup"  # nothing else to do yet
        page = await visitor.get("/setup")
        assert page.status_code == 200 and 'name="setup_code"' in page.text
        form = {
            "home_code": "NLV",
            "home_name": "National Library of Vietnam",
            "home_name_native": "",
            "country": "XX",
            "admin_name": "Hà",
            "admin_email": "not-an-address",
            "admin_password": "short",
        }
        guessed = await visitor.form("/setup", form | {"country": "VN", "admin_email": "ha@nlv.gov.vn", "admin_password": ADMIN_PASSWORD})
        assert guessed.status_code == 422 and "is not the code" in guessed.text  # no code printed yet: nothing works
        printed = _coop(settings, "setup", "--print-code", password=None)
        assert printed.returncode == 0, printed.stderr
        code = re.search(r"[A-Z2-9]{4}(?:-[A-Z2-9]{4}){3}", printed.stdout).group(0)
        wrong = await visitor.form("/setup", form | {"setup_code": "ABCD-EFGH-JKLM-NPQR", "country": "VN"})
        assert wrong.status_code == 422 and "is not the code" in wrong.text
        refused = await visitor.form("/setup", form | {"setup_code": code})
        assert refused.status_code == 422 and "ISO 3166" in refused.text and "e-mail address" in refused.text
        assert 'value="National Library of Vietnam"' in refused.text and code not in refused.text
        assert 'name="admin_password" type="password" required' in refused.text and 'value="short"' not in refused.text
        assert await db.scalar(select(func.count()).select_from(Institution)) == 0  # nothing half-made
        done = await visitor.form(
            "/setup", form | {"setup_code": code.lower(), "country": "VN", "admin_email": "ha@nlv.gov.vn", "admin_password": ADMIN_PASSWORD}
        )
        assert done.status_code == 303 and done.headers["location"] == "/"
        home = await visitor.get("/")
        assert home.status_code == 200 and "Hà" in home.text  # signed in as the new administrator
        assert (await visitor.get("/setup")).status_code == 404
        assert (await visitor.form("/setup", form | {"setup_code": code})).status_code == 404
        again = _coop(settings, "setup", "--print-code", password=None)
        assert again.returncode != 0 and "already set up" in again.stderr
    finally:
        await visitor.raw.aclose()


async def test_setup_codes_cannot_be_tried_without_limit(app):
    from cooperation import setup

    async with app.state.session_factory() as session:
        await setup.issue_code(session)
    visitor = _browser(app, "203.0.113.10")
    try:
        answers = [(await visitor.form("/setup", {"setup_code": f"WRNG-{n:04d}-AAAA-BBBB"})).status_code for n in range(12)]
        assert answers[:10] == [422] * 10 and answers[-1] == 429
    finally:
        await visitor.raw.aclose()


async def test_an_administrator_changes_the_home_institution(client_for, world, db):
    coordinator, admin = await client_for("coordinator"), await client_for("admin")
    refused = await coordinator.api("PUT", "/api/v1/institutions/home", json={"institution_id": str(world.bnf)})
    assert refused.status_code == 403
    changed = await admin.api("PUT", "/api/v1/institutions/home", json={"institution_id": str(world.bnf)})
    assert changed.status_code == 200 and changed.json()["is_home"] is True
    homes = list(await db.scalars(select(Institution.code).where(Institution.is_home.is_(True))))
    assert homes == ["BNF"]
    staff = set(await db.scalars(select(User.institution_id).where(User.role.in_(("admin", "coordinator", "director")))))
    assert staff == {world.bnf}  # the department moved with it
    entry = await db.scalar(select(AuditEvent.summary).where(AuditEvent.action == "set_home"))
    assert entry == "BNF is now the home institution (was NLV; 3 staff accounts moved)"
    page = await admin.get(f"/institutions/{world.home}")
    assert "Make this the home institution" in page.text
    back = await admin.form(f"/institutions/{world.home}/home", {})
    assert back.status_code == 303
    assert list(await db.scalars(select(Institution.code).where(Institution.is_home.is_(True)))) == ["NLV"]
    assert "Make this the home institution" not in (await coordinator.get(f"/institutions/{world.bnf}")).text
