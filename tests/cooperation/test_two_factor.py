"""Two-factor sign-in: set up with an authenticator (RFC 6238), a wrong or replayed code refused, each
recovery code good once; with COOP_REQUIRE_2FA_ADMIN an administrator reaches nothing before setting it up."""

import re
import time
from dataclasses import replace

import pyotp

from cooperation.app import create_app
from tests.conftest import PASSWORD, Client, http_client


async def _enrol(client: Client) -> tuple[str, list[str]]:
    started = await client.form("/account/two-factor/start", {})
    assert started.status_code == 200 and "<svg" in started.text and "segno" in started.text
    secret = re.search(r'<code id="secret">([A-Z2-7]+)</code>', started.text).group(1)
    wrong = await client.form("/account/two-factor/confirm", {"code": "000000"})
    assert wrong.status_code == 422 and "not the code" in wrong.text
    on = await client.form("/account/two-factor/confirm", {"code": pyotp.TOTP(secret).now()})
    assert on.status_code == 200 and "shown only now" in on.text
    return secret, re.findall(r"<li><code>([0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4})</code></li>", on.text)


async def _password_step(client: Client, email: str) -> None:
    token = await client.csrf()
    answer = await client.raw.post("/login", data={"email": email, "password": PASSWORD, "_csrf_token": token}, follow_redirects=False)
    assert answer.status_code == 303 and answer.headers["location"] == "/login/two-factor"


async def test_codes_from_an_authenticator_and_recovery_codes(app, client_for, world):
    coordinator = await client_for("coordinator")
    secret, recovery = await _enrol(coordinator)
    assert len(recovery) == 10
    email = world.users["coordinator"]
    async with http_client(app, "192.0.2.40") as raw:
        browser = Client(raw)
        await _password_step(browser, email)
        assert (await browser.api("GET", "/api/v1/agreements")).status_code == 401  # the password alone signs nobody in
        assert (await browser.form("/login/two-factor", {"code": "123456"})).status_code == 401
        code = pyotp.TOTP(secret).at(time.time() + 30)  # this step's code went to the set-up; the next one is in the drift
        done = await browser.form("/login/two-factor", {"code": code})
        assert done.status_code == 303 and (await browser.api("GET", "/api/v1/agreements")).status_code == 200
    async with http_client(app, "192.0.2.41") as raw:
        again = Client(raw)
        await _password_step(again, email)
        assert (await again.form("/login/two-factor", {"code": code})).status_code == 401  # the same code twice: no
        assert (await again.form("/login/two-factor", {"code": recovery[0].upper()})).status_code == 303
    async with http_client(app, "192.0.2.42") as raw:
        third = Client(raw)
        await _password_step(third, email)
        assert (await third.form("/login/two-factor", {"code": recovery[0]})).status_code == 401  # each recovery code once
        page = await coordinator.get("/account/two-factor")
        assert "9 recovery codes left" in page.text


async def test_administrators_must_set_it_up_when_required(settings, world):
    app = create_app(replace(settings, require_2fa_admin=True))
    try:
        async with http_client(app, "192.0.2.43") as raw:
            admin = Client(raw)
            signed = await admin.sign_in(world.users["admin"])
            assert signed.headers["location"] == "/account/two-factor"
            assert (await admin.get("/admin/users", follow_redirects=False)).headers["location"] == "/account/two-factor"
            assert (await admin.api("GET", "/api/v1/users")).status_code == 403
            secret, _ = await _enrol(admin)
            assert (await admin.get("/admin/users")).status_code == 200  # set up: everything again
            refused = await admin.form("/account/two-factor/disable", {"code": pyotp.TOTP(secret).at(time.time() + 30)})
            assert refused.status_code == 409
        async with http_client(app, "192.0.2.44") as raw:
            coordinator = Client(raw)
            assert (await coordinator.sign_in(world.users["coordinator"])).headers["location"] == "/"  # only administrators
    finally:
        app.state.reports.close()
        await app.state.engine.dispose()


async def test_a_password_reset_still_asks_for_the_second_step(settings, smtp_port, inbox, world):
    """The reset link proves the mailbox, not the authenticator: with two-factor on (and required of administrators),
    choosing a new password leads to the code page, and only the code opens a session."""
    app = create_app(replace(settings, require_2fa_admin=True, smtp_port=smtp_port, mail_from="LibCoop <libcoop@nlv.example>"))
    try:
        async with http_client(app, "192.0.2.45") as raw:
            admin = Client(raw)
            await admin.sign_in(world.users["admin"])
            secret, _ = await _enrol(admin)
        async with http_client(app, "192.0.2.46") as raw:
            visitor = Client(raw)
            assert (await visitor.form("/password/forgot", {"email": world.users["admin"]})).status_code == 200
            await app.state.later.drain()  # the e-mail leaves after the answer
            (message,) = inbox.to(world.users["admin"])
            link = re.search(r"/password/reset/[A-Za-z0-9_-]+", message.get_body(("plain",)).get_content()).group(0)
            reset = await visitor.form(link, {"password": "a brand new passphrase"})
            assert reset.status_code == 303 and reset.headers["location"] == "/login/two-factor"
            assert (await visitor.api("GET", "/api/v1/users")).status_code == 401  # the new password alone signs nobody in
            assert (await visitor.get("/", follow_redirects=False)).headers["location"].startswith("/login")
            done = await visitor.form("/login/two-factor", {"code": pyotp.TOTP(secret).at(time.time() + 30)})
            assert done.status_code == 303 and (await visitor.api("GET", "/api/v1/users")).status_code == 200
    finally:
        app.state.reports.close()
        await app.state.engine.dispose()
