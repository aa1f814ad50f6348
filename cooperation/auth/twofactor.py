"""Two-factor sign-in for password accounts: time-based one-time codes (RFC 6238, pyotp) from an authenticator app,
set up by scanning a QR code (segno), with ten recovery codes that each work once.

A code is accepted one step either side of now (clock drift) and never twice: the step used is kept, and a code of
that step or an earlier one is refused. The secret is stored encrypted with the app's key (crypto.py). With
COOP_REQUIRE_2FA_ADMIN, an administrator without it signs in only to set it up (middleware.py).
"""

import hashlib
import io
import secrets
import time
import uuid
from dataclasses import dataclass

import pyotp
import segno
from sqlalchemy import delete, select, update
from sqlalchemy.ext.asyncio import AsyncSession

from cooperation import audit, i18n
from cooperation.auth import crypto
from cooperation.auth.access import Principal
from cooperation.auth.models import RecoveryCode, User
from cooperation.db import table, utcnow
from cooperation.errors import ConflictError, ValidationFailed

ISSUER = "LibCoop"
RECOVERY_CODES = 10
STEP_SECONDS = 30
RC = table(RecoveryCode).c


def _digest(code: str) -> str:
    return hashlib.sha256(code.replace("-", "").replace(" ", "").lower().encode()).hexdigest()


@dataclass
class Enrollment:
    secret: str  # shown as text too, for an authenticator without a camera
    uri: str
    qr_svg: str


async def start(session: AsyncSession, principal: Principal, secret_key: crypto.Keys) -> Enrollment:
    """A new secret waiting for its first code (any earlier waiting one is replaced)."""
    user = await session.get(User, principal.user_id)
    assert user is not None
    if user.totp_enabled_at is not None:
        raise ConflictError(i18n.gettext("Two-factor sign-in is on already: turn it off first to set up another authenticator."))
    if not user.password_hash:
        raise ConflictError(i18n.gettext("You sign in with your institution's account: its own second factor applies there."))
    secret = pyotp.random_base32()
    user.totp_pending_encrypted = crypto.encrypt(secret_key, secret)
    await session.commit()
    return enrollment_of(user.email, secret)


def enrollment_of(email: str, secret: str) -> Enrollment:
    uri = pyotp.TOTP(secret).provisioning_uri(name=email, issuer_name=ISSUER)
    buffer = io.BytesIO()
    segno.make(uri, error="m").save(buffer, kind="svg", scale=4, xmldecl=False, svgns=True, title="LibCoop authenticator code")
    return Enrollment(secret, uri, buffer.getvalue().decode())


async def pending_enrollment(session: AsyncSession, principal: Principal, secret_key: crypto.Keys) -> Enrollment | None:
    user = await session.get(User, principal.user_id)
    if user is None or not user.totp_pending_encrypted:
        return None
    return enrollment_of(user.email, crypto.decrypt(secret_key, user.totp_pending_encrypted))


def _step(secret: str, code: str, last_step: int | None, now: float | None = None) -> int | None:
    """The time step a correct code belongs to (one step of drift either way), or None."""
    code = code.strip().replace(" ", "")
    if not (code.isdigit() and len(code) == 6):
        return None
    moment = now if now is not None else time.time()
    totp = pyotp.TOTP(secret)
    for offset in (0, -1, 1):
        step = int(moment // STEP_SECONDS) + offset
        if secrets.compare_digest(totp.at(step * STEP_SECONDS), code) and (last_step is None or step > last_step):
            return step
    return None


async def confirm(session: AsyncSession, principal: Principal, secret_key: crypto.Keys, code: str) -> list[str]:
    """The first code from the authenticator turns it on; the recovery codes are returned once."""
    user = await session.get(User, principal.user_id)
    assert user is not None
    if not user.totp_pending_encrypted:
        raise ConflictError(i18n.gettext("Start the set-up again: no authenticator is waiting for its first code."))
    secret = crypto.decrypt(secret_key, user.totp_pending_encrypted)
    step = _step(secret, code, None)
    if step is None:
        raise ValidationFailed({"code": i18n.gettext("is not the code your authenticator shows now")})
    user.totp_secret_encrypted, user.totp_pending_encrypted = user.totp_pending_encrypted, None
    user.totp_enabled_at, user.totp_last_step = utcnow(), step
    codes = [f"{secrets.token_hex(2)}-{secrets.token_hex(2)}-{secrets.token_hex(2)}" for _ in range(RECOVERY_CODES)]
    await session.execute(delete(RecoveryCode).where(RC.user_id == user.id))
    session.add_all([RecoveryCode(user_id=user.id, code_hash=_digest(c)) for c in codes])
    audit.record(session, principal, "two_factor_on", "user", user.id, summary="Two-factor sign-in turned on")
    await session.commit()
    return codes


async def disable(session: AsyncSession, principal: Principal, secret_key: crypto.Keys, code: str) -> None:
    user = await session.get(User, principal.user_id)
    assert user is not None
    if user.totp_enabled_at is None:
        return
    if not await _accept(session, user, secret_key, code):
        raise ValidationFailed({"code": i18n.gettext("is neither your authenticator's current code nor an unused recovery code")})
    user.totp_secret_encrypted, user.totp_enabled_at, user.totp_last_step = None, None, None
    await session.execute(delete(RecoveryCode).where(RC.user_id == user.id))
    audit.record(session, principal, "two_factor_off", "user", user.id, summary="Two-factor sign-in turned off")
    await session.commit()


async def _accept(session: AsyncSession, user: User, secret_key: crypto.Keys, code: str) -> bool:
    """A current code (not used before) or an unused recovery code, used up by this call. The caller commits."""
    if user.totp_secret_encrypted:
        step = _step(crypto.decrypt(secret_key, user.totp_secret_encrypted), code, user.totp_last_step)
        if step is not None:
            # Guarded by the step read: two requests with the same code cannot both pass.
            used = await session.execute(
                update(User)
                .where(table(User).c.id == user.id, (table(User).c.totp_last_step.is_(None)) | (table(User).c.totp_last_step < step))
                .values(totp_last_step=step)
            )
            return bool(used.rowcount)  # type: ignore[attr-defined]
    claimed = await session.execute(
        update(RecoveryCode)
        .where(RC.user_id == user.id, RC.code_hash == _digest(code), RC.used_at.is_(None))
        .values(used_at=utcnow())
        .returning(RC.id)
    )
    return claimed.first() is not None


async def second_step(session: AsyncSession, user_id: uuid.UUID, secret_key: crypto.Keys, code: str) -> User | None:
    """The user, when this code completes their sign-in; None otherwise."""
    user = await session.get(User, user_id)
    if user is None or not user.active or user.totp_enabled_at is None:
        return None
    if not await _accept(session, user, secret_key, code):
        await session.rollback()
        return None
    await session.flush()
    return user


async def recovery_codes_left(session: AsyncSession, user_id: uuid.UUID) -> int:
    from sqlalchemy import func

    return int(await session.scalar(select(func.count()).where(RC.user_id == user_id, RC.used_at.is_(None))) or 0)
