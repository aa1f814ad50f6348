"""Rotating COOP_SECRET_KEY: with the old key in COOP_OLD_SECRET_KEYS every stored secret stays readable, and
`coop secret rotate` re-encrypts each under the new key — a webhook's secret, an administrator's two-factor secret,
an identity provider's client secret, the instance's signing key, and one sealed before keys were derived by HKDF —
after which the new key alone reads them all. A secret no key reads stops the rotation, and nothing is changed."""

import dataclasses
import os
import subprocess
import sys

import pyotp
import pytest
from sqlalchemy import select, update

from cooperation import outbound, webhooks
from cooperation.auth import crypto, twofactor
from cooperation.auth.models import IdentityProvider, User
from cooperation.peers import services as peers
from cooperation.peers.models import InstanceKey
from cooperation.settings import PROJECT_ROOT

OLD, NEW = "old-key-" + "o" * 40, "new-key-" + "n" * 40


def _rotate(settings, *old: str):
    env = os.environ | {
        "COOP_DATABASE_URL": settings.database_url,
        "COOP_DATA_DIR": str(settings.data_dir),
        "COOP_ENV": "test",
        "COOP_SECRET_KEY": NEW,
        "COOP_OLD_SECRET_KEYS": ",".join(old),
    }
    command = [sys.executable, "-m", "cooperation.cli", "secret", "rotate"]
    return subprocess.run(command, cwd=PROJECT_ROOT, env=env, capture_output=True, text=True, timeout=120, stdin=subprocess.DEVNULL)


async def _stored(db) -> dict[str, str]:
    db.expire_all()
    return {
        "webhook": (await db.execute(select(webhooks.WebhookEndpoint.secret))).scalar_one(),
        "totp": (await db.execute(select(User.totp_secret_encrypted).where(User.totp_secret_encrypted.is_not(None)))).scalar_one(),
        "provider": (await db.execute(select(IdentityProvider.client_secret_encrypted))).scalar_one(),
        "instance": (await db.execute(select(InstanceKey.private_key))).scalar_one(),
    }


async def test_a_new_key_reads_every_stored_secret_once_rotate_has_run(app, db, client_for, world, monkeypatch):
    async def resolve(host: str, port: int) -> list[str]:
        return ["127.0.0.1"]  # the webhook's receiving system, as the test's own resolver names it (nothing is sent)

    monkeypatch.setattr(outbound, "resolve", resolve)
    old = dataclasses.replace(app.state.settings, secret_key=OLD)
    app.state.settings = old
    admin = await client_for("admin")
    page = await admin.form(
        "/admin/webhooks", {"url": "https://hooks.nlv.example/e", "owner_id": str(world.principals["admin"].user_id), "kinds": ["visit"]}
    )
    assert page.status_code == 200, page.text[:300]
    hook_secret = page.text.split('id="webhook-secret">')[1].split("<")[0]
    # Two-factor, as the administrator sets it up: the secret is sealed with the key of the day.
    enrollment = await twofactor.start(db, world.principals["admin"], old.secret_keys)
    await twofactor.confirm(db, world.principals["admin"], old.secret_keys, pyotp.TOTP(enrollment.secret).now())
    # A provider's client secret sealed before keys were derived by HKDF: still read, and rewritten by the rotation.
    legacy = crypto._before_hkdf(OLD, crypto.IDP_CLIENT_SECRET).encrypt(b"nlc-client-secret").decode()
    db.add(
        IdentityProvider(
            institution_id=world.nlc,
            issuer="https://sso.nlc.example",
            client_id="libcoop",
            client_secret_encrypted=legacy,
        )
    )
    await db.commit()
    key_id, _, public = await peers.signing_key(db, old)
    before = await _stored(db)

    # The new key alone reads none of them…
    for name, purpose in (("webhook", webhooks.SECRET_PURPOSE), ("instance", peers.KEY_PURPOSE)):
        with pytest.raises(ValueError, match="COOP_OLD_SECRET_KEYS"):
            crypto.decrypt((NEW,), before[name], purpose=purpose)
    # …with the old one beside it, all of them, as the app reads them during a rotation.
    during = dataclasses.replace(old, secret_key=NEW, old_secret_keys=(OLD,))
    assert crypto.decrypt(during.secret_keys, before["webhook"], purpose=webhooks.SECRET_PURPOSE) == hook_secret
    assert crypto.decrypt(during.secret_keys, before["provider"]) == "nlc-client-secret"

    done = _rotate(old, OLD)
    assert done.returncode == 0, done.stderr
    assert "1  webhook secrets" in done.stdout and "1  the instance's signing keys" in done.stdout
    after = await _stored(db)
    assert all(after[k] != before[k] for k in before)
    alone = dataclasses.replace(old, secret_key=NEW, old_secret_keys=())
    assert crypto.decrypt(alone.secret_keys, after["webhook"], purpose=webhooks.SECRET_PURPOSE) == hook_secret
    assert crypto.decrypt(alone.secret_keys, after["provider"]) == "nlc-client-secret"
    same_id, _, same_public = await peers.signing_key(db, alone)  # its private half read with the new key
    assert (same_id, same_public) == (key_id, public)
    # The administrator's authenticator goes on working with the new key alone.
    secret = crypto.decrypt(alone.secret_keys, after["totp"], purpose=crypto.TOTP_SECRET)
    assert secret == enrollment.secret

    # A secret sealed with a key nobody gave: the rotation stops, names it, and changes nothing.
    stray = crypto.encrypt("a-key-nobody-has-" + "x" * 30, "whsec_stray", purpose=webhooks.SECRET_PURPOSE)
    await db.execute(update(webhooks.WebhookEndpoint).values(secret=stray))
    await db.commit()
    refused = _rotate(old, OLD)
    assert refused.returncode != 0 and "webhook secrets" in refused.stderr and "nothing was changed" in refused.stderr
    unchanged = await _stored(db)
    assert unchanged["webhook"] == stray and unchanged["instance"] == after["instance"]
