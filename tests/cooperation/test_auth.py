"""Local sign-in: argon2 passwords, session id rotation, sign-out, CSRF, demo sign-in on loopback only."""

import httpx
from sqlalchemy import func, select

from cooperation.auth.models import AuthSession, User
from tests.conftest import PASSWORD, Client, http_client


async def test_sign_in_rotates_the_session_id_and_sign_out_ends_it(anonymous, world, db):
    first = await anonymous.sign_in(world.users["coordinator"])
    first_token = anonymous.raw.cookies.get("coop_session")
    assert "HttpOnly" in first.headers["set-cookie"] and "SameSite=lax" in first.headers["set-cookie"]
    await anonymous.sign_in(world.users["coordinator"])
    second_token = anonymous.raw.cookies.get("coop_session")
    assert second_token != first_token
    # The old id is gone from the server, not merely replaced in the browser.
    assert (await db.scalar(select(func.count()).select_from(AuthSession))) == 1
    assert (await anonymous.get("/api/v1/agreements")).status_code == 200
    await anonymous.form("/logout", {})
    assert (await db.scalar(select(func.count()).select_from(AuthSession))) == 0
    anonymous.raw.cookies.set("coop_session", second_token)
    assert (await anonymous.get("/api/v1/agreements")).status_code == 401


async def test_password_is_stored_as_argon2_hash(world, db):
    stored = await db.scalar(select(User.password_hash).where(User.email == world.users["admin"]))
    assert stored.startswith("$argon2id$")
    assert PASSWORD not in stored


async def test_wrong_password_and_deactivated_user_are_refused(anonymous, world, db):
    token = await anonymous.csrf()
    wrong = await anonymous.raw.post("/login", data={"email": world.users["admin"], "password": "nope", "_csrf_token": token})
    assert wrong.status_code == 401
    assert "not right" in wrong.text
    assert world.users["admin"] in wrong.text  # what the person typed is kept
    user = await db.scalar(select(User).where(User.email == world.users["director"]))
    user.active = False
    await db.commit()
    refused = await anonymous.raw.post("/login", data={"email": world.users["director"], "password": PASSWORD, "_csrf_token": token})
    assert refused.status_code == 401


async def test_form_without_csrf_token_is_refused_and_writes_nothing(client_for, world):
    coordinator = await client_for("coordinator")
    response = await coordinator.raw.post("/institutions", data={"code": "NLK", "name": "National Library of Korea", "country": "KR"})
    assert response.status_code == 403
    assert "CSRF" in response.text
    forged = await coordinator.raw.post("/institutions", data={"code": "NLK", "name": "X", "country": "KR", "_csrf_token": "0" * 128})
    assert forged.status_code == 403
    api = await coordinator.raw.post("/api/v1/institutions", json={"code": "NLK", "name": "X", "country": "KR"})
    assert api.status_code == 403
    listed = (await coordinator.api("GET", "/api/v1/institutions?q=NLK")).json()
    assert listed["total"] == 0


async def test_next_parameter_cannot_redirect_off_site(anonymous, world):
    token = await anonymous.csrf()
    response = await anonymous.raw.post(
        "/login", data={"email": world.users["admin"], "password": PASSWORD, "_csrf_token": token, "next": "//evil.example/"}
    )
    assert response.headers["location"] == "/"


async def test_demo_sign_in_only_when_enabled_and_local(app, world):
    async with http_client(app, client_address="127.0.0.1") as raw:
        client = Client(raw)
        assert (await client.form("/login/demo", {"email": "admin@demo.libcoop.test"})).status_code == 404


async def test_demo_sign_in_works_on_loopback_when_enabled(settings, world, db):
    from dataclasses import replace

    from cooperation.app import create_app
    from cooperation.auth.access import Role
    from cooperation.auth.services import create_user

    await create_user(db, None, email="director@demo.libcoop.test", name="Demo Director", role=Role.DIRECTOR, password=PASSWORD)
    await db.commit()
    app = create_app(replace(settings, demo_sign_in=True))
    try:
        local = httpx.AsyncClient(transport=httpx.ASGITransport(app=app, client=("127.0.0.1", 5000)), base_url="http://127.0.0.1:8000")
        async with local as raw:
            page = await raw.get("/login")
            assert "Sign in as Demo Director" in page.text
            client = Client(raw)
            signed = await client.form("/login/demo", {"email": "director@demo.libcoop.test"})
            assert signed.status_code == 303
            assert (await raw.get("/api/v1/agreements")).status_code == 200
        remote = httpx.AsyncClient(transport=httpx.ASGITransport(app=app, client=("203.0.113.7", 5000)), base_url="http://127.0.0.1:8000")
        async with remote as raw:
            assert "Sign in as" not in (await raw.get("/login")).text
            assert (await Client(raw).form("/login/demo", {"email": "director@demo.libcoop.test"})).status_code == 404
    finally:
        await app.state.engine.dispose()
