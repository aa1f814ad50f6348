"""Personal API tokens: created and revoked by their owner, shown once, stored hashed, read or read-write."""

import secrets
import uuid
from datetime import datetime, timedelta
from enum import StrEnum
from typing import Annotated

import msgspec
from sqlalchemy import select, update
from sqlalchemy.ext.asyncio import AsyncSession
from sqlmodel import col

from cooperation import audit, i18n
from cooperation.auth.access import Principal, Role
from cooperation.auth.models import ApiToken, User
from cooperation.auth.services import token_digest
from cooperation.db import table, utcnow
from cooperation.errors import ConflictError, ForbiddenError, NotFoundError
from cooperation.i18n import N_
from cooperation.records import nfc

TOKEN_PREFIX = "lcp_"
LAST_USED_RESOLUTION = timedelta(minutes=1)


class TokenScope(StrEnum):
    READ = "read"
    READ_WRITE = "read_write"


i18n.register_labels({"read": N_("Read"), "read_write": N_("Read and write")})


class TokenIn(msgspec.Struct, forbid_unknown_fields=True):
    name: Annotated[str, msgspec.Meta(min_length=1, max_length=100)]
    scope: TokenScope = TokenScope.READ
    expires_in_days: Annotated[int, msgspec.Meta(ge=1, le=730)] | None = 365


class TokenOut(msgspec.Struct):
    id: uuid.UUID
    name: str
    prefix: str
    scope: str
    created_at: datetime
    expires_at: datetime | None
    last_used_at: datetime | None
    revoked: bool


class NewToken(TokenOut):
    token: str = ""  # the secret itself: returned this once, never again


async def create(session: AsyncSession, principal: Principal, data: TokenIn) -> NewToken:
    if principal.via_token:
        raise ForbiddenError(i18n.gettext("Tokens are created from a signed-in browser session, not with another token."))
    secret = TOKEN_PREFIX + secrets.token_urlsafe(32)
    now = utcnow()
    token = ApiToken(
        user_id=principal.user_id,
        name=nfc(data.name.strip()),
        prefix=secret[:12],
        token_hash=token_digest(secret),
        scope=data.scope.value,
        created_at=now,
        expires_at=now + timedelta(days=data.expires_in_days) if data.expires_in_days else None,
    )
    session.add(token)
    await session.flush()
    audit.record(session, principal, "create_token", "user", principal.user_id, summary=f"API token “{token.name}” ({token.scope}) created")
    await session.commit()
    return NewToken(
        id=token.id,
        name=token.name,
        prefix=token.prefix,
        scope=token.scope,
        created_at=token.created_at,
        expires_at=token.expires_at,
        last_used_at=None,
        revoked=False,
        token=secret,
    )


async def list_own(session: AsyncSession, principal: Principal) -> list[TokenOut]:
    t = table(ApiToken).c
    rows = await session.execute(
        select(t.id, t.name, t.prefix, t.scope, t.created_at, t.expires_at, t.last_used_at, t.revoked_at.is_not(None))
        .where(t.user_id == principal.user_id)
        .order_by(t.created_at.desc())
    )
    return [TokenOut(*row) for row in rows]


async def revoke(session: AsyncSession, principal: Principal, token_id: uuid.UUID) -> None:
    token = await session.get(ApiToken, token_id)
    if token is None or token.user_id != principal.user_id:
        raise NotFoundError("token")
    if token.revoked_at is not None:
        raise ConflictError(i18n.gettext("This token is already revoked."))
    token.revoked_at = utcnow()
    audit.record(session, principal, "revoke_token", "user", principal.user_id, summary=f"API token “{token.name}” revoked")
    await session.commit()


async def principal_for_bearer(session: AsyncSession, secret: str) -> tuple[Principal, str] | None:
    """The owner (as they are now: role, institution, active) of a live token, and the token's scope."""
    if not secret.startswith(TOKEN_PREFIX):
        return None
    t = table(ApiToken).c
    u = table(User).c
    now = utcnow()
    row = (
        await session.execute(
            select(t.id, t.scope, u.id, u.name, u.email, u.role, u.institution_id, u.time_zone, t.last_used_at)
            .join(table(User), u.id == t.user_id)
            .where(t.token_hash == token_digest(secret), t.revoked_at.is_(None), u.active.is_(True), u.archived_at.is_(None))
            .where((t.expires_at.is_(None)) | (t.expires_at > now))
        )
    ).first()
    if row is None:
        return None
    if row[8] is None or now - row[8] > LAST_USED_RESOLUTION:
        # "Last used" to the minute: a script polling the API must not turn every read into a write.
        await session.execute(update(ApiToken).where(col(ApiToken.id) == row[0]).values(last_used_at=now))
        await session.commit()
    principal = Principal(
        user_id=row[2], name=row[3], email=row[4], role=Role(row[5]), institution_id=row[6], time_zone=row[7], via_token=True
    )
    return principal, row[1]
