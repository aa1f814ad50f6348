"""Local accounts, passwords (argon2) and server-side sessions."""

import hashlib
import ipaddress
import secrets
import time
import uuid
from dataclasses import dataclass, replace
from datetime import timedelta
from typing import Any

from argon2 import PasswordHasher
from argon2.exceptions import InvalidHashError, VerificationError
from sqlalchemy import delete, func, select, update
from sqlalchemy.ext.asyncio import AsyncSession
from sqlmodel import col

from cooperation import audit, i18n
from cooperation.auth import passwords
from cooperation.auth.access import Principal, Role
from cooperation.auth.models import AuthSession, User
from cooperation.db import table, utcnow
from cooperation.errors import ConflictError, ValidationFailed
from cooperation.partners.models import Person
from cooperation.records import nfc

_hasher = PasswordHasher()
# Verified against when the e-mail is unknown, so both paths take the same time.
_DUMMY_HASH = _hasher.hash("not-a-real-password")


def hash_password(password: str, *, email: str | None = None) -> str:
    """The Argon2id hash of an acceptable password (passwords.py says what is acceptable), or ValidationFailed."""
    if (refused := passwords.problem(password, email=email)) is not None:
        raise ValidationFailed({"password": refused})
    return _hasher.hash(password)


def token_digest(token: str) -> str:
    return hashlib.sha256(token.encode()).hexdigest()


def principal_of(user: User) -> Principal:
    return Principal(
        user_id=user.id,
        name=user.name,
        email=user.email,
        role=Role(user.role),
        institution_id=user.institution_id,
        time_zone=user.time_zone,
        language=user.language,
    )


async def create_user(
    session: AsyncSession,
    actor: Principal | None,
    *,
    email: str,
    name: str,
    role: Role,
    password: str | None = None,
    institution_id: uuid.UUID | None = None,
    name_native: str | None = None,
    time_zone: str = "Asia/Ho_Chi_Minh",
) -> User:
    email = email.strip().lower()
    errors = {}
    if "@" not in email or email.startswith("@") or email.endswith("@"):
        errors["email"] = i18n.gettext("must be an e-mail address")
    if not name.strip():
        errors["name"] = i18n.gettext("is required")
    if role is Role.PARTNER and institution_id is None:
        errors["institution_id"] = i18n.gettext("a partner user must belong to an institution")
    if errors:
        raise ValidationFailed(errors)
    existing = await session.scalar(select(col(User.id)).where(col(User.email) == email))
    if existing is not None:
        raise ConflictError(
            i18n.gettext("A user with e-mail %(email)s already exists.", email=email), errors={"email": i18n.gettext("already in use")}
        )
    user = User(
        email=email,
        name=nfc(name.strip()),
        name_native=nfc(name_native) if name_native else None,
        role=role.value,
        institution_id=institution_id,
        password_hash=hash_password(password, email=email) if password else None,
        time_zone=time_zone,
    )
    session.add(user)
    await session.flush()
    audit.record(session, actor, "create", "user", user.id, summary=f"User {email} ({role.value})")
    return user


def verify_password(stored: str, password: str) -> bool:
    try:
        return bool(_hasher.verify(stored, password))
    except (VerificationError, InvalidHashError):
        return False


async def authenticate_password(session: AsyncSession, email: str, password: str) -> User | None:
    user = await session.scalar(select(User).where(col(User.email) == email.strip().lower()))
    stored = user.password_hash if user is not None and user.password_hash else _DUMMY_HASH
    try:
        _hasher.verify(stored, password)
    except (VerificationError, InvalidHashError):
        return None
    if user is None or not user.password_hash or not user.active or user.archived_at is not None:
        return None
    return user


@dataclass(frozen=True)
class NewSession:
    token: str
    expires_in_seconds: int


async def start_session(
    session: AsyncSession,
    user: User,
    *,
    hours: int,
    previous_token: str | None,
    ip_address: str | None,
    user_agent: str | None,
    method: str = "password",
    data: dict[str, Any] | None = None,
) -> NewSession:
    """Sign-in: a brand-new session id (the old one, if any, is deleted: no session fixation)."""
    if previous_token:
        await session.execute(delete(AuthSession).where(col(AuthSession.token_hash) == token_digest(previous_token)))
    token = secrets.token_urlsafe(32)
    now = utcnow()
    session.add(
        AuthSession(
            token_hash=token_digest(token),
            user_id=user.id,
            created_at=now,
            expires_at=now + timedelta(hours=hours),
            ip_address=ip_address,
            user_agent=(user_agent or "")[:300] or None,
            data=data or {},
        )
    )
    user.last_sign_in_at = now
    audit.record(session, principal_of(user), "sign_in", "user", user.id, summary=f"Signed in ({method})")
    await link_person_by_email(session, user)
    return NewSession(token=token, expires_in_seconds=hours * 3600)


async def link_person_by_email(session: AsyncSession, user: User) -> uuid.UUID | None:
    """The first sign-in (or an accepted invitation) links the account to the person record of its institution with
    the same e-mail, once: so the follow-up actions that name that person reach this account's home page. Nothing
    happens when the account is linked already, or when no person — or more than one — has that address."""
    P = table(Person).c
    if await session.scalar(select(P.id).where(P.user_id == user.id).limit(1)) is not None:
        return None
    same = (
        await session.scalars(
            select(P.id)
            .where(func.lower(P.email) == user.email.lower(), P.user_id.is_(None), P.archived_at.is_(None))
            .where(P.institution_id == user.institution_id if user.institution_id else P.institution_id.is_not(None))
            .limit(2)
        )
    ).all()
    if len(same) != 1:
        return None
    await session.execute(update(Person).where(P.id == same[0], P.user_id.is_(None)).values(user_id=user.id))
    said = f"Linked to the account {user.email} by its e-mail"
    audit.record(session, principal_of(user), "link_account", "person", same[0], summary=said)
    return same[0]


class PrincipalCache:
    """Who a session token belongs to, remembered for a few seconds per process.

    Every request needs the principal; asking the database each time was a third of the list API's
    CPU (bench/agreements_api.py). Sign-out evicts at once in this process; a changed account clears it in every
    process at once (revocation.py).
    """

    def __init__(self, ttl: float = 5.0, max_entries: int = 10_000) -> None:
        self.ttl = ttl
        self.max_entries = max_entries
        self.enabled = True  # off while this process cannot hear other processes' changes (revocation.py)
        self._entries: dict[str, tuple[float, Principal]] = {}

    def get(self, digest: str) -> Principal | None:
        if not self.enabled:
            return None
        entry = self._entries.get(digest)
        if entry is None:
            return None
        if entry[0] < time.monotonic():
            self._entries.pop(digest, None)
            return None
        return entry[1]

    def put(self, digest: str, principal: Principal) -> None:
        if not self.enabled:
            return
        if len(self._entries) >= self.max_entries:
            self._entries.clear()
        self._entries[digest] = (time.monotonic() + self.ttl, principal)

    def evict(self, digest: str) -> None:
        self._entries.pop(digest, None)

    def clear(self) -> None:
        self._entries.clear()


principal_cache = PrincipalCache()


async def end_session(session: AsyncSession, token: str | None) -> dict[str, Any]:
    """Delete the session; returns what it recorded at sign-in (e.g. the SSO provider, for its sign-out)."""
    if not token:
        return {}
    principal_cache.evict(token_digest(token))
    ended = await session.scalar(select(AuthSession).where(col(AuthSession.token_hash) == token_digest(token)))
    if ended is None:
        return {}
    data = dict(ended.data or {})
    await session.delete(ended)
    return data


async def principal_for_token(session: AsyncSession, token: str) -> Principal | None:
    """One query (or none, within the cache's few seconds): the live session joined to its active user."""
    digest = token_digest(token)
    cached = principal_cache.get(digest)
    if cached is not None:
        return cached
    u = table(User).c
    s = table(AuthSession).c
    connection = await session.connection()
    row = (
        await connection.execute(
            select(u.id, u.name, u.email, u.role, u.institution_id, u.time_zone, u.language, s.data)
            .join_from(table(AuthSession), table(User), s.user_id == u.id)
            .where(
                s.token_hash == digest,
                s.expires_at > utcnow(),
                u.active.is_(True),
                u.archived_at.is_(None),
            )
        )
    ).first()
    if row is None:
        return None
    data = row.data or {}
    principal = Principal(
        user_id=row.id,
        name=row.name,
        email=row.email,
        role=Role(row.role),
        institution_id=row.institution_id,
        time_zone=row.time_zone,
        enroll_only=bool(data.get("enroll_only")),
        language=row.language,
    )
    viewing = data.get(VIEW_AS)
    if viewing and principal.manages_records:  # the same rules as the partner's own session: one implementation
        principal = replace(principal, role=Role.PARTNER, institution_id=uuid.UUID(viewing["id"]), viewing_as=viewing["label"])
    principal_cache.put(digest, principal)
    return principal


VIEW_AS = "view_as"  # in the session's data: {"id": institution id, "label": "NLC · National Library of China"}


async def set_viewing_as(session: AsyncSession, principal: Principal, token: str, institution_id: uuid.UUID | None) -> None:
    """Start (an institution) or stop (None) viewing pages as a partner institution sees them, for this browser's
    session only. Coordinators and administrators; audited; every process forgets the session's principal at once."""
    from cooperation.auth import revocation
    from cooperation.auth.access import require_manager
    from cooperation.errors import NotFoundError
    from cooperation.i18n import N_
    from cooperation.partners.models import Institution

    stored = await session.scalar(select(AuthSession).where(col(AuthSession.token_hash) == token_digest(token)))
    if stored is None:
        raise NotFoundError("session")
    data = dict(stored.data or {})
    if institution_id is None:
        ended = data.pop(VIEW_AS, None)
        if ended:
            audit.record(
                session, principal, "view_as_end", "institution", uuid.UUID(ended["id"]), summary=f"Stopped viewing as {ended['label']}"
            )
    else:
        if principal.viewing_as is None:
            require_manager(principal, N_("view pages as a partner sees them"))
        i = table(Institution).c
        found = (
            await session.execute(select(i.code, i.name).where(i.id == institution_id, i.is_home.is_(False), i.archived_at.is_(None)))
        ).first()
        if found is None:
            raise NotFoundError("institution")
        label = f"{found.code} · {found.name}"
        data[VIEW_AS] = {"id": str(institution_id), "label": label}
        audit.record(session, principal, "view_as", "institution", institution_id, summary=f"Viewed pages as {label}")
    stored.data = data
    await revocation.announce(session)
    await session.commit()
    revocation.forget_here()


def is_loopback(host: str | None) -> bool:
    if not host:
        return False
    try:
        return ipaddress.ip_address(host).is_loopback
    except ValueError:
        return host == "localhost"
