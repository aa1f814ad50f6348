"""`coop secret rotate`: every secret LibCoop keeps encrypted, re-encrypted under the current COOP_SECRET_KEY.

Run it with the new key in COOP_SECRET_KEY and the old one in COOP_OLD_SECRET_KEYS (auth/crypto.py reads both meanwhile);
once it has run, the old key can be dropped. All in one transaction: a secret no key reads stops it, and nothing is
rewritten (the message names the kind of secret and its row).
"""

from dataclasses import dataclass
from typing import Any

from sqlalchemy import select, update
from sqlalchemy.ext.asyncio import AsyncSession

from cooperation import audit, webhooks
from cooperation.auth import crypto
from cooperation.auth.access import operator
from cooperation.auth.models import IdentityProvider, User
from cooperation.db import table
from cooperation.peers.models import InstanceKey
from cooperation.peers.services import KEY_PURPOSE
from cooperation.settings import Settings


@dataclass(frozen=True)
class Sealed:
    """A column holding Fernet tokens, and the purpose its key was derived for."""

    label: str
    model: Any
    column: str
    purpose: str


SEALED = (
    Sealed("identity providers' client secrets", IdentityProvider, "client_secret_encrypted", crypto.IDP_CLIENT_SECRET),
    Sealed("two-factor secrets", User, "totp_secret_encrypted", crypto.TOTP_SECRET),
    Sealed("two-factor secrets being set up", User, "totp_pending_encrypted", crypto.TOTP_SECRET),
    Sealed("webhook secrets", webhooks.WebhookEndpoint, "secret", webhooks.SECRET_PURPOSE),
    Sealed("the instance's signing keys", InstanceKey, "private_key", KEY_PURPOSE),
)


class UnreadableSecret(Exception):
    """A stored secret that none of the keys given reads."""


async def rotate_all(session: AsyncSession, settings: Settings) -> dict[str, int]:
    """Re-encrypt every stored secret under settings.secret_key; how many of each kind. Commits once, at the end."""
    done: dict[str, int] = {}
    for sealed in SEALED:
        columns = table(sealed.model).c
        column = columns[sealed.column]
        rows = (await session.execute(select(columns.id, column).where(column.is_not(None)))).all()
        for row_id, token in rows:
            try:
                fresh = crypto.rotate(settings.secret_keys, token, purpose=sealed.purpose)
            except ValueError:
                await session.rollback()
                raise UnreadableSecret(
                    f"{sealed.label} ({sealed.model.__tablename__} {row_id}) cannot be read with COOP_SECRET_KEY nor "
                    "COOP_OLD_SECRET_KEYS: put the key it was sealed with in COOP_OLD_SECRET_KEYS; nothing was changed"
                ) from None
            await session.execute(update(sealed.model).where(columns.id == row_id).values({sealed.column: fresh}))
        done[sealed.label] = done.get(sealed.label, 0) + len(rows)
    audit.record(
        session,
        operator(),
        "rotate_secrets",
        "instance",
        None,
        summary="Stored secrets re-encrypted under a new COOP_SECRET_KEY",
        changes={label: count for label, count in done.items()},
    )
    await session.commit()
    return done
