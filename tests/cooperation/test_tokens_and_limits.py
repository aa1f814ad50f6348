"""Personal API tokens (shown once, hashed, read or read-write, revocable) and rate limits on sign-in."""

import hashlib

from sqlalchemy import select

from cooperation.auth.models import ApiToken
from tests.agreements.helpers import agreement_payload
from tests.conftest import PASSWORD, Client, http_client


async def test_token_life_cycle(app, client_for, world, db):
    coordinator = await client_for("coordinator")
    created = await coordinator.api("POST", "/api/v1/tokens", json={"name": "statistics script", "scope": "read"})
    assert created.status_code == 201, created.text
    secret = created.json()["token"]
    assert secret.startswith("lcp_")
    stored = await db.scalar(select(ApiToken).where(ApiToken.name == "statistics script"))
    assert stored.token_hash == hashlib.sha256(secret.encode()).hexdigest() and secret not in str(stored.model_dump())
    listed = (await coordinator.api("GET", "/api/v1/tokens")).json()
    assert "token" not in listed[0] and listed[0]["prefix"] == secret[:12]
    async with http_client(app) as script:
        headers = {"Authorization": f"Bearer {secret}"}
        assert (await script.get("/api/v1/agreements", headers=headers)).status_code == 200
        first_use = await db.scalar(select(ApiToken.last_used_at).where(ApiToken.id == stored.id).execution_options(populate_existing=True))
        assert first_use is not None
        assert (await script.get("/api/v1/agreements", headers=headers)).status_code == 200
        second_use = await db.scalar(
            select(ApiToken.last_used_at).where(ApiToken.id == stored.id).execution_options(populate_existing=True)
        )
        assert second_use == first_use  # recorded to the minute: reads do not each become a write
        write = await script.post("/api/v1/agreements", json=agreement_payload([world.home, world.nlc]), headers=headers)
        assert write.status_code == 403 and "read-only" in write.json()["detail"]
        assert (await script.get("/agreements", headers=headers, follow_redirects=False)).status_code in (
            303,
            401,
        )  # pages need a browser session
        minted = await script.post("/api/v1/tokens", json={"name": "escalate", "scope": "read_write"}, headers=headers)
        assert minted.status_code == 403
    revoked = await coordinator.api("POST", f"/api/v1/tokens/{created.json()['id']}/revoke")
    assert revoked.status_code == 204
    async with http_client(app) as script:
        assert (await script.get("/api/v1/agreements", headers={"Authorization": f"Bearer {secret}"})).status_code == 401


async def test_read_write_token_writes_as_its_owner_and_within_their_rights(app, client_for, world):
    partner = await client_for("partner_a")
    secret = (await partner.api("POST", "/api/v1/tokens", json={"name": "sync", "scope": "read_write"})).json()["token"]
    async with http_client(app) as script:
        headers = {"Authorization": f"Bearer {secret}"}
        own = await script.post("/api/v1/people", json={"name": "Luo Chong", "institution_id": str(world.nlc)}, headers=headers)
        assert own.status_code == 201  # no CSRF token needed: a bearer request carries no ambient credential
        refused = await script.post("/api/v1/institutions", json={"code": "ZZ", "name": "Z", "country": "FR"}, headers=headers)
        assert refused.status_code == 403


async def test_tokens_page_shows_the_secret_once(client_for, world):
    coordinator = await client_for("coordinator")
    page = await coordinator.form("/account/tokens", {"name": "report export", "scope": "read", "expires_in_days": "30"})
    assert page.status_code == 200 and "will not be shown again" in page.text and "lcp_" in page.text
    again = await coordinator.get("/account/tokens")
    assert "report export" in again.text and "will not be shown again" not in again.text


async def test_sign_in_is_rate_limited(app, world):
    async with http_client(app, client_address="198.51.100.9") as raw:
        client = Client(raw)
        token = await client.csrf()
        statuses = []
        for _ in range(22):  # 10 failures allowed per 5-minute window; 22 covers a window boundary during the test
            response = await raw.post("/login", data={"email": world.users["admin"], "password": "wrong", "_csrf_token": token})
            statuses.append(response.status_code)
            if response.status_code == 429:
                break
        assert statuses[-1] == 429 and statuses[:10] == [401] * 10
        assert int(response.headers["retry-after"]) > 0
        assert "Too many attempts" in response.text
        # After ten failures even the right password waits out the window.
        blocked = await raw.post("/login", data={"email": world.users["admin"], "password": PASSWORD, "_csrf_token": token})
        assert blocked.status_code == 429


async def test_successful_sign_ins_are_not_counted(app, world):
    """A department behind one address signs in all morning: only failures count, per address and per account."""
    async with http_client(app, client_address="198.51.100.10") as raw:
        client = Client(raw)
        token = await client.csrf()
        for _ in range(25):
            response = await raw.post(
                "/login", data={"email": world.users["coordinator"], "password": PASSWORD, "_csrf_token": token}, follow_redirects=False
            )
            assert response.status_code == 303
    # Failures on one account from many addresses lock that account, not the others.
    statuses = []
    for n in range(12):
        async with http_client(app, client_address=f"203.0.113.{n + 1}") as raw:
            token = await Client(raw).csrf()
            response = await raw.post("/login", data={"email": world.users["director"], "password": "wrong", "_csrf_token": token})
            statuses.append(response.status_code)
            if response.status_code == 429:
                break
    assert statuses[-1] == 429 and statuses.count(401) >= 10
    async with http_client(app, client_address="203.0.113.99") as raw:
        token = await Client(raw).csrf()
        other = await raw.post(
            "/login", data={"email": world.users["coordinator"], "password": PASSWORD, "_csrf_token": token}, follow_redirects=False
        )
        assert other.status_code == 303


async def test_a_bearer_header_skips_csrf_only_when_a_token_was_checked(app, world):
    """Any `Authorization: Bearer …` skipped CSRF, even on the sign-in form where no token is checked."""
    async with http_client(app, client_address="198.51.100.77") as raw:
        forged = await raw.post(
            "/login",
            data={"email": world.users["admin"], "password": PASSWORD},
            headers={"Authorization": "Bearer not-a-token"},
            follow_redirects=False,
        )
        assert forged.status_code == 403 and "CSRF" in forged.text
