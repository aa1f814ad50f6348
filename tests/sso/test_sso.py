"""Partner single sign-on against a real OpenID provider, and every refusal the spec asks for."""

import base64
import hashlib
import hmac
import json
import time
import uuid

import pytest
from joserfc import jwt
from joserfc.jwk import RSAKey
from sqlalchemy import func, select

from cooperation.audit import AuditEvent
from cooperation.auth import sso
from cooperation.auth.models import IdentityProvider, User, UserIdentity
from cooperation.partners.models import Institution
from tests.agreements.helpers import agreement_payload
from tests.conftest import Client, http_client
from tests.sso.conftest import CLIENT_SECRET, callback_path, replace_param, through_provider


@pytest.fixture
async def registered(client_for, world, providers):
    """Both providers registered through the admin API; returns their ids by institution code."""
    admin = await client_for("admin")
    ids = {}
    for code, institution in (("NLC", world.nlc), ("BNF", world.bnf)):
        provider = providers[code]
        response = await admin.api(
            "POST",
            "/api/v1/identity-providers",
            json={
                "institution_id": str(institution),
                "issuer": provider.issuer,
                "client_id": provider.client_id,
                "client_secret": CLIENT_SECRET,
                "scopes": "openid email profile groups",
                "allowed_email_domains": [f"{code.lower()}.example"],
            },
        )
        assert response.status_code == 201, response.text
        assert "client_secret" not in response.text
        ids[code] = response.json()["id"]
    return ids


async def browser(app) -> Client:
    return Client(http_client(app))


async def start(client: Client, code: str) -> str:
    response = await client.get(f"/auth/sso/{code}", follow_redirects=False)
    assert response.status_code == 303, response.text
    return response.headers["location"]


async def reasons(db) -> list[str]:
    rows = await db.scalars(select(AuditEvent.summary).where(AuditEvent.action == "sign_in_failed").order_by(AuditEvent.occurred_at))
    return list(rows)


async def test_full_sign_in_creates_the_partner_and_shows_only_shared_records(app, db, world, registered, client_for):
    coordinator = await client_for("coordinator")
    shared = (
        await coordinator.api("POST", "/api/v1/agreements", json=agreement_payload([world.home, world.nlc], reference="SHARED-NLC"))
    ).json()
    await coordinator.api("POST", "/api/v1/agreements", json=agreement_payload([world.home, world.bnf], reference="SHARED-BNF"))
    partner = await browser(app)
    login_page = await partner.get("/login")
    assert "/auth/sso/NLC" in login_page.text and "National Library of China" in login_page.text
    authorization = await start(partner, "NLC")
    assert "code_challenge_method=S256" in authorization and "nonce=" in authorization and "state=" in authorization
    pre_sign_in = partner.raw.cookies.get("coop_session")
    callback = await through_provider(authorization, "luo.chong")
    assert "iss=" in callback  # RFC 9207: the provider names itself in the response
    done = await partner.get(callback_path(callback), follow_redirects=False)
    assert done.status_code == 303, done.text
    assert partner.raw.cookies.get("coop_session") != pre_sign_in  # the session id is rotated at sign-in
    listed = (await partner.api("GET", "/api/v1/agreements")).json()
    assert [a["reference"] for a in listed["items"]] == ["SHARED-NLC"]
    assert (await partner.api("GET", f"/api/v1/agreements/{shared['id']}")).status_code == 200
    user = await db.scalar(select(User).where(User.email == "luo.chong@nlc.example"))
    assert user.role == "partner" and user.institution_id == world.nlc and user.password_hash is None
    identity = await db.scalar(select(UserIdentity).where(UserIdentity.user_id == user.id))
    assert identity.subject == "luo.chong" and identity.issuer.startswith("http://127.0.0.1:")
    # Signing in again finds the same account by (issuer, subject).
    again = await browser(app)
    await again.get(callback_path(await through_provider(await start(again, "NLC"), "luo.chong")), follow_redirects=False)
    assert (await db.scalar(select(User.id).where(User.name == "Luo Chong"))) == user.id
    # Sign-out ends the local session and sends the browser to the provider's end-session endpoint.
    out = await partner.form("/logout", {})
    assert out.status_code == 303 and "/session/end?id_token_hint=" in out.headers["location"]
    assert (await partner.api("GET", "/api/v1/agreements")).status_code == 401


async def test_tampered_state_is_refused(app, db, registered):
    partner = await browser(app)
    callback = await through_provider(await start(partner, "NLC"), "luo.chong")
    response = await partner.get(callback_path(replace_param(callback, "state", "forged")))
    assert response.status_code == 400 and "does not match the request" in response.text
    assert any("state mismatch" in r for r in await reasons(db))
    assert (await partner.api("GET", "/api/v1/agreements")).status_code == 401


async def test_replayed_state_and_code_are_refused(app, db, registered):
    first = await browser(app)
    callback = await through_provider(await start(first, "NLC"), "luo.chong")
    flow_cookie = first.raw.cookies.get("coop_sso")
    assert (await first.get(callback_path(callback), follow_redirects=False)).status_code == 303
    assert first.raw.cookies.get("coop_sso") is None  # the attempt's cookie goes with the sign-in
    first.raw.cookies.set("coop_sso", flow_cookie, path="/auth/sso/")
    replay = await first.get(callback_path(callback))  # the same request again, cookie and all
    assert replay.status_code == 400 and "already used" in replay.text
    # Another browser that started its own flow cannot use the first one's code.
    second = await browser(app)
    fresh = await through_provider(await start(second, "NLC"), "luo.chong")
    stolen = replace_param(fresh, "code", callback.split("code=")[1].split("&")[0])
    refused = await second.get(callback_path(stolen))
    assert refused.status_code == 400 and "did not accept" in refused.text
    assert any("token endpoint refused" in r for r in await reasons(db))


async def test_wrong_nonce_is_refused(app, db, registered):
    partner = await browser(app)
    authorization = replace_param(await start(partner, "NLC"), "nonce", "a-nonce-the-app-never-sent")
    response = await partner.get(callback_path(await through_provider(authorization, "luo.chong")))
    assert response.status_code == 400
    assert any("nonce" in r for r in await reasons(db))


async def test_mix_up_between_two_providers_is_refused(app, db, registered):
    partner = await browser(app)
    callback = await through_provider(await start(partner, "NLC"), "luo.chong")
    other_path = callback_path(callback).replace("/auth/sso/NLC/", "/auth/sso/BNF/")
    response = await partner.get(other_path)
    assert response.status_code == 400 and "different institution" in response.text
    # A response that claims to come from the other provider (RFC 9207 iss) is refused too.
    second = await browser(app)
    answer = await through_provider(await start(second, "BNF"), "claire.martin")
    forged = replace_param(answer, "iss", "http%3A%2F%2F127.0.0.1%3A1")
    assert (await second.get(callback_path(forged))).status_code == 400
    assert any("iss" in r for r in await reasons(db))


async def test_disabled_provider_and_deactivated_user_cannot_sign_in(app, db, registered, client_for, world):
    partner = await browser(app)
    assert (
        await partner.get(callback_path(await through_provider(await start(partner, "NLC"), "luo.chong")), follow_redirects=False)
    ).status_code == 303
    user = await db.scalar(select(User).where(User.email == "luo.chong@nlc.example"))
    user.active = False
    await db.commit()
    again = await browser(app)
    refused = await again.get(callback_path(await through_provider(await start(again, "NLC"), "luo.chong")))
    assert refused.status_code == 400 and "deactivated" in refused.text
    admin = await client_for("admin")
    disabled = await admin.api("POST", f"/api/v1/identity-providers/{registered['NLC']}/enabled", json={"enabled": False, "version": 1})
    assert disabled.status_code == 200 and disabled.json()["enabled"] is False
    third = await browser(app)
    response = await third.get("/auth/sso/NLC", follow_redirects=False)
    assert response.status_code == 400 and "not available" in response.text
    assert "/auth/sso/NLC" not in (await third.get("/login")).text


async def test_unverified_or_foreign_email_does_not_link_accounts(app, db, registered, world):
    from cooperation.auth.access import Role
    from cooperation.auth.services import create_user

    existing = await create_user(
        db,
        None,
        email="rong.jie@nlc.example",
        name="Rong Jie (local)",
        role=Role.PARTNER,
        password="a long local password",
        institution_id=world.nlc,
    )
    await db.commit()
    partner = await browser(app)
    await partner.get(callback_path(await through_provider(await start(partner, "NLC"), "rong.jie")), follow_redirects=False)
    identity = await db.scalar(select(UserIdentity).where(UserIdentity.subject == "rong.jie"))
    assert identity.user_id != existing.id  # email_verified is false at the provider: no linking


# ---- the ID token checks, with tokens signed by the provider's own key --------------------------------


def signed(provider, claims, *, key=None, alg="RS256", kid=None):
    private = key or RSAKey.import_key(provider.private_jwk)
    header = {"alg": alg, "kid": kid or provider.private_jwk["kid"]}
    return jwt.encode(header, claims, private)


def claims_for(provider, **overrides):
    now = int(time.time())
    base = {"iss": provider.issuer, "aud": provider.client_id, "sub": "luo.chong", "iat": now, "exp": now + 300, "nonce": "n-1"}
    base.update(overrides)
    return {k: v for k, v in base.items() if v is not None}


@pytest.mark.parametrize(
    ("overrides", "reason"),
    [
        ({}, None),
        ({"aud": "someone-else"}, "aud"),
        ({"exp": int(time.time()) - 3600, "iat": int(time.time()) - 7200}, "exp"),
        ({"nbf": int(time.time()) + 3600}, "not yet valid"),
        ({"iss": "https://evil.example"}, "iss"),
        ({"nonce": "other"}, "nonce"),
        ({"nonce": None}, "nonce"),
        ({"aud": ["libcoop-at-nlc", "other-client"], "azp": "other-client"}, "azp"),
    ],
)
async def test_id_token_claims(db, registered, providers, overrides, reason):
    provider = providers["NLC"]
    row = await db.get(IdentityProvider, uuid.UUID(registered["NLC"]))
    if overrides.get("aud") == ["libcoop-at-nlc", "other-client"]:
        overrides = {**overrides, "aud": [provider.client_id, "other-client"]}
    token = signed(provider, claims_for(provider, **overrides))
    async with sso.http_client() as http:
        if reason is None:
            claims = await sso.validate_id_token(db, row, token, nonce="n-1", access_token=None, http=http)
            assert claims["sub"] == "luo.chong"
            return
        with pytest.raises(sso.SsoRefused) as refused:
            await sso.validate_id_token(db, row, token, nonce="n-1", access_token=None, http=http)
    assert reason in refused.value.reason


async def test_unknown_key_is_refetched_once_then_refused(db, registered, providers):
    provider = providers["NLC"]
    row = await db.get(IdentityProvider, uuid.UUID(registered["NLC"]))
    fetched_before = row.jwks_fetched_at
    stranger = RSAKey.generate_key(2048, parameters={"kid": "not-published"}, private=True)
    token = signed(provider, claims_for(provider), key=stranger, kid="not-published")
    async with sso.http_client() as http:
        with pytest.raises(sso.SsoRefused) as refused:
            await sso.validate_id_token(db, row, token, nonce="n-1", access_token=None, http=http)
    assert "unknown key id" in refused.value.reason
    assert row.jwks_fetched_at > fetched_before


def _b64(data: bytes) -> str:
    return base64.urlsafe_b64encode(data).rstrip(b"=").decode()


async def test_none_and_symmetric_algorithms_are_refused(db, registered, providers):
    """The classic attacks: alg "none", and HS256 keyed with the provider's public key."""
    provider = providers["NLC"]
    row = await db.get(IdentityProvider, uuid.UUID(registered["NLC"]))
    payload = _b64(json.dumps(claims_for(provider)).encode())
    none = f"{_b64(json.dumps({'alg': 'none'}).encode())}.{payload}."
    public_pem = RSAKey.import_key(provider.private_jwk).as_pem(private=False)
    signing_input = f"{_b64(json.dumps({'alg': 'HS256', 'kid': provider.private_jwk['kid']}).encode())}.{payload}"
    hs = f"{signing_input}.{_b64(hmac.new(public_pem, signing_input.encode(), hashlib.sha256).digest())}"
    async with sso.http_client() as http:
        for token in (none, hs):
            with pytest.raises(sso.SsoRefused) as refused:
                await sso.validate_id_token(db, row, token, nonce="n-1", access_token=None, http=http)
            assert "not allowed" in refused.value.reason


async def test_discovery_issuer_must_match_exactly(client_for, world, providers):
    admin = await client_for("admin")
    response = await admin.api(
        "POST",
        "/api/v1/identity-providers",
        json={"institution_id": str(world.nlc), "issuer": providers["NLC"].issuer + "/", "client_id": "x", "client_secret": "y"},
    )
    assert response.status_code == 422
    assert "must match exactly" in response.json()["errors"]["issuer"]
    partner_idp = await admin.api(
        "POST",
        "/api/v1/identity-providers",
        json={
            "institution_id": str(world.nlc),
            "issuer": providers["NLC"].issuer,
            "client_id": "x",
            "client_secret": "y",
            "role_mapping": {"staff": "coordinator"},
        },
    )
    assert partner_idp.status_code == 422 and "only grant the partner role" in partner_idp.json()["errors"]["role_mapping"]
    coordinator = await client_for("coordinator")
    assert (await coordinator.api("GET", "/api/v1/identity-providers")).status_code == 403


async def test_admin_registers_through_the_page_and_the_command_line(app, client_for, world, providers, settings, monkeypatch, capsys):
    admin = await client_for("admin")
    page = await admin.form(
        "/admin/identity-providers",
        {
            "institution_id": str(world.nlc),
            "issuer": providers["NLC"].issuer,
            "client_id": providers["NLC"].client_id,
            "client_secret": CLIENT_SECRET,
            "scopes": "openid email profile",
            "allowed_email_domains": "nlc.example",
            "default_role": "partner",
            "enabled": "1",
        },
    )
    assert page.status_code == 303, page.text
    listing = await admin.get("/admin/identity-providers")
    assert providers["NLC"].issuer in listing.text and "/auth/sso/NLC/callback" in listing.text
    wrong = await admin.form(
        "/admin/identity-providers",
        {"institution_id": str(world.bnf), "issuer": "https://nowhere.invalid", "client_id": "x", "client_secret": "y", "scopes": "openid"},
    )
    assert wrong.status_code == 422 and "could not read" in wrong.text and 'value="https://nowhere.invalid"' in wrong.text
    # The same for BnF from the command line (the operator's way), against the same database.
    from cooperation import cli

    monkeypatch.setenv("COOP_DATABASE_URL", settings.database_url)
    monkeypatch.setenv("COOP_SECRET_KEY", settings.secret_key)
    monkeypatch.setenv("COOP_SSO_CLIENT_SECRET", CLIENT_SECRET)
    import asyncio

    await asyncio.to_thread(
        cli.main,
        [
            "sso",
            "add",
            "--institution",
            "BNF",
            "--issuer",
            providers["BNF"].issuer,
            "--client-id",
            providers["BNF"].client_id,
            "--allowed-domain",
            "bnf.example",
        ],
    )
    assert "redirect URI is <COOP_BASE_URL>/auth/sso/BNF/callback" in capsys.readouterr().out
    partner = await browser(app)
    answer = await through_provider(await start(partner, "BNF"), "claire.martin")
    assert (await partner.get(callback_path(answer), follow_redirects=False)).status_code == 303


async def test_verified_email_in_an_allowed_domain_links_the_existing_account(app, db, registered, world):
    from cooperation.auth.access import Role
    from cooperation.auth.services import create_user

    existing = await create_user(
        db,
        None,
        email="luo.chong@nlc.example",
        name="Luo Chong (local)",
        role=Role.PARTNER,
        password="a long local password",
        institution_id=world.nlc,
    )
    await db.commit()
    partner = await browser(app)
    done = await partner.get(callback_path(await through_provider(await start(partner, "NLC"), "luo.chong")), follow_redirects=False)
    assert done.status_code == 303
    identity = await db.scalar(select(UserIdentity).where(UserIdentity.subject == "luo.chong"))
    assert identity.user_id == existing.id  # email_verified, nlc.example allowed, same institution: the same person
    assert (await db.scalar(select(func.count()).select_from(User).where(User.institution_id == world.nlc))) == 2  # no new account


async def test_one_issuer_speaks_for_one_institution(app, db, registered, client_for, world, providers):
    """One issuer could be registered for two institutions, and sign-in took whoever owned (issuer, subject) whatever
    provider was used: a second registration is refused, and an account is bound to its provider's institution."""
    admin = await client_for("admin")
    second = await admin.api(
        "POST",
        "/api/v1/identity-providers",
        json={
            "institution_id": str(world.ndl),
            "issuer": providers["NLC"].issuer,
            "client_id": providers["NLC"].client_id,
            "client_secret": CLIENT_SECRET,
        },
    )
    assert second.status_code == 409 and "already registered for NLC" in second.json()["errors"]["issuer"]
    # Luo Chong signs in through NLC's provider: his account is NLC's.
    partner = await browser(app)
    done = await partner.get(callback_path(await through_provider(await start(partner, "NLC"), "luo.chong")), follow_redirects=False)
    assert done.status_code == 303
    # Data from before the rule: the same issuer also registered for the BnF. Its sign-in never reaches NLC's account.
    nlc_provider = await db.get(IdentityProvider, uuid.UUID(registered["NLC"]))
    bnf_provider = await db.get(IdentityProvider, uuid.UUID(registered["BNF"]))
    bnf = await db.get(Institution, world.bnf)
    with pytest.raises(sso.SsoRefused, match="another institution"):
        await sso.user_for(
            db,
            IdentityProvider(**{**bnf_provider.model_dump(), "issuer": nlc_provider.issuer}),
            bnf,
            {"sub": "luo.chong", "email": "luo.chong@nlc.example", "email_verified": True},
        )


async def test_starting_or_failing_a_sign_in_does_not_sign_out(app, registered, client_for):
    """A link from another site to /auth/sso/NLC, or a junk answer at the callback, used to end the session."""
    coordinator = await client_for("coordinator")
    assert (await coordinator.api("GET", "/api/v1/agreements")).status_code == 200
    session = coordinator.raw.cookies.get("coop_session")
    started = await coordinator.get("/auth/sso/NLC", follow_redirects=False, headers={"sec-fetch-site": "cross-site"})
    assert started.status_code == 303 and "coop_session" not in started.headers.get("set-cookie", "")
    assert (await coordinator.api("GET", "/api/v1/agreements")).status_code == 200
    junk = await coordinator.get("/auth/sso/NLC/callback?state=x&code=y", follow_redirects=False)
    assert junk.status_code == 400 and "coop_session" not in junk.headers.get("set-cookie", "")
    unknown = await coordinator.get("/auth/sso/N0PE/callback?error=access_denied", follow_redirects=False)
    assert unknown.status_code == 400
    assert coordinator.raw.cookies.get("coop_session") == session
    assert (await coordinator.api("GET", "/api/v1/agreements")).status_code == 200


async def test_an_invitation_is_accepted_by_signing_in_with_the_institutions_provider(app, db, world, registered, client_for):
    admin = await client_for("admin")
    made = await admin.api(
        "POST",
        "/api/v1/invitations",
        json={"email": "luo.chong@nlc.example", "name": "Luo Chong", "role": "partner", "institution_id": str(world.nlc)},
    )
    token = made.json()["link"].rsplit("/", 1)[1]
    invited = await browser(app)
    page = await invited.get(f"/invitations/{token}")
    assert f'href="/auth/sso/NLC?invitation={token}"' in page.text
    started = await invited.get(f"/auth/sso/NLC?invitation={token}", follow_redirects=False)
    assert started.status_code == 303
    done = await invited.get(callback_path(await through_provider(started.headers["location"], "luo.chong")), follow_redirects=False)
    assert done.status_code == 303, done.text
    user = await db.scalar(select(User).where(User.email == "luo.chong@nlc.example"))
    assert user.role == "partner" and user.institution_id == world.nlc and user.password_hash is None
    identity = await db.scalar(select(UserIdentity).where(UserIdentity.user_id == user.id))
    assert identity.subject == "luo.chong"
    assert (await invited.get(f"/invitations/{token}")).status_code == 404  # used
    again = await (await browser(app)).get(f"/auth/sso/NLC?invitation={token}", follow_redirects=False)
    assert again.status_code == 400 and "used, revoked or has expired" in again.text
    other = await admin.api(
        "POST", "/api/v1/invitations", json={"email": "x@bnf.example", "name": "X", "role": "partner", "institution_id": str(world.bnf)}
    )
    wrong = await (await browser(app)).get(f"/auth/sso/NLC?invitation={other.json()['link'].rsplit('/', 1)[1]}", follow_redirects=False)
    assert wrong.status_code == 400 and "another institution" in wrong.text
