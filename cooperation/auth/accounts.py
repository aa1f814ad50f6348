"""Accounts, as administrators manage them: the list, invitations, role and institution, deactivation.

Coordinators, directors and administrators belong to the home institution; a partner librarian to a partner
institution. An invitation is a one-time link (72 hours) e-mailed to the person and shown once to the administrator;
following it sets a password and signs in. A change to an account that could widen or end access (role, institution,
deactivation) ends its sessions at once, in every process (revocation.py); API tokens follow the account on their
next request. The last active administrator cannot be deactivated or demoted.
"""

import re
import secrets
import uuid
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Annotated, Any

import msgspec
import structlog
from markupsafe import escape
from sqlalchemy import delete, func, select, update
from sqlalchemy.ext.asyncio import AsyncSession

from cooperation import audit, i18n, mail
from cooperation.auth import revocation
from cooperation.auth.access import OPERATOR_ID, ROLE_LABELS, Principal, Role, require_admin
from cooperation.auth.models import ApiToken, AuthSession, Invitation, PasswordReset, User, UserIdentity
from cooperation.auth.services import create_user, hash_password, link_person_by_email, token_digest, verify_password
from cooperation.db import table, utcnow
from cooperation.errors import ConflictError, NotFoundError, ValidationFailed
from cooperation.i18n import N_
from cooperation.partners.models import Institution, Person
from cooperation.records import ByName, PageBase, fetch_page, order_by, search_terms
from cooperation.settings import Settings

INVITATION_HOURS = 72
LANGUAGES = ("en", "fr", "vi", "zh_Hans")
STAFF = (Role.ADMIN, Role.COORDINATOR, Role.DIRECTOR)
EMAIL = re.compile(r"[^@\s]+@[^@\s]+\.[^@\s]+")
U, I, V = table(User).c, table(Institution).c, table(Invitation).c  # noqa: E741
log = structlog.get_logger("accounts")

Language = Annotated[str, msgspec.Meta(pattern=r"^(en|fr|vi|zh_Hans)$")]


class UserRow(msgspec.Struct):
    id: uuid.UUID
    name: str
    email: str
    role: str
    institution_id: uuid.UUID | None
    institution_code: str | None
    signs_in_with: list[str]  # "password", "single sign-on": codes of the API, words on the page (registered labels)
    last_sign_in_at: datetime | None
    active: bool
    language: str


class UserPage(PageBase):
    items: list[UserRow]


class UserChange(msgspec.Struct, forbid_unknown_fields=True):
    """What an administrator changes on an account; fields left out stay as they are."""

    role: Role | None = None
    institution_id: uuid.UUID | None = None
    active: bool | None = None
    name: Annotated[str, msgspec.Meta(min_length=1, max_length=200)] | None = None


class InviteIn(msgspec.Struct, forbid_unknown_fields=True):
    email: Annotated[str, msgspec.Meta(min_length=3, max_length=320)]
    name: Annotated[str, msgspec.Meta(min_length=1, max_length=200)]
    role: Role
    institution_id: uuid.UUID | None = None  # a partner's institution; staff belong to the home institution
    language: Language = "en"
    person_id: uuid.UUID | None = None  # the person record the account will be linked to


class InvitationOut(msgspec.Struct):
    id: uuid.UUID
    email: str
    name: str
    role: str
    institution_id: uuid.UUID
    institution_code: str
    language: str
    created_at: datetime
    expires_at: datetime
    sent_at: datetime | None
    send_error: str | None
    status: str  # pending, accepted, revoked, expired
    link: str | None = None  # only in the answer that created or re-sent it: passed on once, never stored


class AcceptIn(msgspec.Struct, forbid_unknown_fields=True):
    password: Annotated[str, msgspec.Meta(max_length=1000)]


# ---- the list ---------------------------------------------------------------------------------------------------


async def list_users(
    session: AsyncSession,
    principal: Principal,
    *,
    q: str | None = None,
    role: Role | None = None,
    institution_id: uuid.UUID | None = None,
    active: bool | None = None,
    page: int = 1,
    per_page: int = 50,
    sort: str | None = None,
    user_id: uuid.UUID | None = None,
) -> UserPage:
    require_admin(principal, N_("manage accounts"))
    password = U.password_hash.is_not(None)
    sso = select(table(UserIdentity).c.id).where(table(UserIdentity).c.user_id == U.id).exists()
    statement = (
        select(
            U.id,
            U.name,
            U.email,
            U.role,
            U.institution_id,
            I.code,
            password.label("password"),
            sso.label("sso"),
            U.last_sign_in_at,
            U.active,
            U.language,
        )
        .select_from(table(User).outerjoin(table(Institution), I.id == U.institution_id))
        .where(U.archived_at.is_(None))
    )
    # Names and addresses folded: "tran" and "Trần" both find Trần Thị Lan.
    for term in search_terms(q):
        statement = statement.where(U.search_text.contains(term, autoescape=True))
    if user_id is not None:
        statement = statement.where(U.id == user_id)
    if role is not None:
        statement = statement.where(U.role == role.value)
    if institution_id is not None:
        statement = statement.where(U.institution_id == institution_id)
    if active is not None:
        statement = statement.where(U.active.is_(active))
    paged = await fetch_page(
        session,
        statement,
        page=page,
        per_page=per_page,
        order=order_by(sort, {"name": ByName(U.name), "email": U.email, "role": U.role, "last_sign_in_at": U.last_sign_in_at}, "name"),
        tiebreak=U.id,
    )
    items = [
        UserRow(
            id_, name, email, role_, institution, code, [m for m, on in (("password", pw), ("single sign-on", sso_)) if on], last, on_, lang
        )
        for id_, name, email, role_, institution, code, pw, sso_, last, on_, lang in paged.rows
    ]
    return UserPage(items=items, total=paged.total, total_exact=paged.total_exact, page=page, per_page=per_page)


async def get_user(session: AsyncSession, principal: Principal, user_id: uuid.UUID) -> UserRow:
    require_admin(principal, N_("manage accounts"))
    found = await session.get(User, user_id)
    if found is None or found.archived_at is not None:
        raise NotFoundError("account")
    return (await list_users(session, principal, user_id=user_id, per_page=1)).items[0]


# ---- role, institution, deactivation --------------------------------------------------------------------------------


async def _home(session: AsyncSession) -> uuid.UUID | None:
    return await session.scalar(select(I.id).where(I.is_home.is_(True)))


i18n.register_labels(
    {"accepted": N_("Accepted"), "revoked": N_("Revoked"), "password": N_("Password"), "single sign-on": N_("Single sign-on")}
)


async def _institution_errors(session: AsyncSession, role: Role, institution_id: uuid.UUID | None) -> dict[str, str]:
    home = await _home(session)
    if role in STAFF:
        if home is None:
            return {"role": i18n.gettext("there is no home institution yet: run `coop setup` first")}
        if institution_id not in (None, home):
            return {"institution_id": i18n.gettext("%(role)s: belongs to the home institution", role=i18n.gettext(ROLE_LABELS[role]))}
        return {}
    if institution_id is None:
        return {"institution_id": i18n.gettext("a partner librarian belongs to a partner institution")}
    if institution_id == home:
        return {"institution_id": i18n.gettext("a partner librarian belongs to a partner institution, not the home institution")}
    exists = await session.scalar(select(I.id).where(I.id == institution_id, I.archived_at.is_(None)))
    return {} if exists else {"institution_id": i18n.gettext("no such institution")}


async def _other_active_admins(session: AsyncSession, user_id: uuid.UUID) -> int:
    return int(
        await session.scalar(
            select(func.count()).where(U.role == Role.ADMIN.value, U.active.is_(True), U.archived_at.is_(None), U.id != user_id)
        )
        or 0
    )


async def end_sessions(session: AsyncSession, user_id: uuid.UUID) -> None:
    """Every session of the account ends with this transaction, in every process (the caller commits, then
    `revocation.forget_here()`)."""
    await session.execute(delete(AuthSession).where(table(AuthSession).c.user_id == user_id))
    await revocation.announce(session)


async def change_user(session: AsyncSession, principal: Principal, user_id: uuid.UUID, data: UserChange) -> None:
    require_admin(principal, N_("manage accounts"))
    if session.get_bind().dialect.name == "postgresql":  # two administrators demoting each other at once: one at a time
        await session.execute(select(U.id).where(U.role == Role.ADMIN.value).order_by(U.id).with_for_update())
    user = await session.get(User, user_id)
    if user is None or user.archived_at is not None:
        raise NotFoundError("account")
    role = data.role or Role(user.role)
    institution_id = data.institution_id if data.institution_id is not None else user.institution_id
    if role in STAFF and data.institution_id is None:
        institution_id = await _home(session)
    errors = await _institution_errors(session, role, institution_id)
    if errors:
        raise ValidationFailed(errors)
    active = user.active if data.active is None else data.active
    losing_admin = user.role == Role.ADMIN.value and user.active and (role is not Role.ADMIN or not active)
    if losing_admin and await _other_active_admins(session, user_id) == 0:
        raise ConflictError(
            i18n.gettext("This is the last active administrator: make another account an administrator first."),
            errors={"role" if role is not Role.ADMIN else "active": i18n.gettext("the last active administrator")},
        )
    name = (data.name or user.name).strip()
    before: dict[str, Any] = {"role": user.role, "institution_id": user.institution_id, "active": user.active, "name": user.name}
    after: dict[str, Any] = {"role": role.value, "institution_id": institution_id, "active": active, "name": name}
    changed = {k: [before[k], after[k]] for k in after if before[k] != after[k]}
    if not changed:
        return
    user.role, user.institution_id, user.active, user.name = role.value, institution_id, active, name
    if {"role", "institution_id", "active"} & set(changed):
        await end_sessions(session, user_id)
    if changed.get("active") == [True, False]:
        await revoke_tokens(session, user_id)
    what = (
        "deactivated" if changed.get("active") == [True, False] else "reactivated" if changed.get("active") == [False, True] else "changed"
    )
    audit.record(session, principal, "update", "user", user_id, summary=f"Account {user.email} {what}", changes=changed)
    await session.commit()
    revocation.forget_here()


# ---- invitations --------------------------------------------------------------------------------------------------


def _status(row: Any, now: datetime) -> str:
    if row.accepted_at is not None:
        return "accepted"
    if row.revoked_at is not None:
        return "revoked"
    return "expired" if row.expires_at <= now else "pending"


def _link(base_url: str, token: str) -> str:
    return f"{base_url.rstrip('/')}/invitations/{token}"


async def list_invitations(session: AsyncSession, principal: Principal, *, open_only: bool = True) -> list[InvitationOut]:
    require_admin(principal, N_("manage accounts"))
    statement = select(table(Invitation), I.code).join(table(Institution), I.id == V.institution_id).order_by(V.created_at.desc())
    if open_only:
        statement = statement.where(V.accepted_at.is_(None), V.revoked_at.is_(None))
    now = utcnow()
    return [_out(r, now) for r in (await session.execute(statement.limit(200))).all()]


def _out(row: Any, now: datetime, link: str | None = None) -> InvitationOut:
    return InvitationOut(
        id=row.id,
        email=row.email,
        name=row.name,
        role=row.role,
        institution_id=row.institution_id,
        institution_code=row.code,
        language=row.language,
        created_at=row.created_at,
        expires_at=row.expires_at,
        sent_at=row.sent_at,
        send_error=row.send_error,
        status=_status(row, now),
        link=link,
    )


async def _one(session: AsyncSession, invitation_id: uuid.UUID) -> Any:
    row = (
        await session.execute(
            select(table(Invitation), I.code).join(table(Institution), I.id == V.institution_id).where(V.id == invitation_id)
        )
    ).first()
    if row is None:
        raise NotFoundError("invitation")
    return row


async def invite(session: AsyncSession, principal: Principal, settings: Settings, base_url: str, data: InviteIn) -> InvitationOut:
    require_admin(principal, N_("invite people"))
    email = data.email.strip().lower()
    errors: dict[str, str] = {}
    if not EMAIL.fullmatch(email):
        errors["email"] = i18n.gettext("must be an e-mail address")
    elif await session.scalar(select(U.id).where(U.email == email)) is not None:
        errors["email"] = i18n.gettext("already has an account")
    if not data.name.strip():
        errors["name"] = i18n.gettext("is required")
    institution_id = data.institution_id if data.role is Role.PARTNER else await _home(session)
    errors |= await _institution_errors(session, data.role, institution_id)
    if data.person_id is not None:
        person = await session.get(Person, data.person_id)
        if person is None or person.archived_at is not None or person.institution_id != institution_id:
            errors["person_id"] = i18n.gettext("no such person at this institution")
        elif person.user_id is not None:
            errors["person_id"] = i18n.gettext("this person is linked to an account already")
    if errors:
        raise ValidationFailed(errors)
    assert institution_id is not None
    now = utcnow()
    # One open invitation per address: a new one replaces the one before.
    await session.execute(
        update(Invitation).where(V.email == email, V.accepted_at.is_(None), V.revoked_at.is_(None)).values(revoked_at=now)
    )
    token = secrets.token_urlsafe(32)
    invitation = Invitation(
        email=email,
        name=data.name.strip(),
        role=data.role.value,
        institution_id=institution_id,
        language=data.language,
        person_id=data.person_id,
        token_hash=token_digest(token),
        created_by_id=principal.user_id if principal.user_id != OPERATOR_ID else None,
        created_at=now,
        expires_at=now + timedelta(hours=INVITATION_HOURS),
    )
    session.add(invitation)
    await session.flush()
    audit.record(session, principal, "invite", "user", None, summary=f"Invited {email} as {ROLE_LABELS[data.role].lower()}")
    await session.commit()
    link = _link(base_url, token)
    await _send(session, settings, invitation.id, link)
    return _out(await _one(session, invitation.id), utcnow(), link)


async def resend(session: AsyncSession, principal: Principal, settings: Settings, base_url: str, invitation_id: uuid.UUID) -> InvitationOut:
    """A new link (the old one stops working), valid another 72 hours, e-mailed again and shown once."""
    require_admin(principal, N_("invite people"))
    row = await _one(session, invitation_id)
    if row.accepted_at is not None or row.revoked_at is not None:
        raise ConflictError(
            i18n.gettext(
                "This invitation was %(status)s: invite the person again instead.", status=i18n.label(_status(row, utcnow())).lower()
            )
        )
    token = secrets.token_urlsafe(32)
    now = utcnow()
    await session.execute(
        update(Invitation)
        .where(V.id == invitation_id)
        .values(token_hash=token_digest(token), expires_at=now + timedelta(hours=INVITATION_HOURS), sent_at=None, send_error=None)
    )
    audit.record(session, principal, "invite", "user", None, summary=f"Invitation to {row.email} sent again")
    await session.commit()
    link = _link(base_url, token)
    await _send(session, settings, invitation_id, link)
    return _out(await _one(session, invitation_id), utcnow(), link)


async def revoke(session: AsyncSession, principal: Principal, invitation_id: uuid.UUID) -> InvitationOut:
    require_admin(principal, N_("invite people"))
    row = await _one(session, invitation_id)
    if row.accepted_at is not None:
        raise ConflictError(i18n.gettext("This invitation was accepted: deactivate the account instead."))
    await session.execute(update(Invitation).where(V.id == invitation_id, V.revoked_at.is_(None)).values(revoked_at=utcnow()))
    audit.record(session, principal, "revoke_invitation", "user", None, summary=f"Invitation to {row.email} revoked")
    await session.commit()
    return _out(await _one(session, invitation_id), utcnow())


async def _send(session: AsyncSession, settings: Settings, invitation_id: uuid.UUID, link: str) -> None:
    """E-mail the link; a failure is recorded on the invitation (the administrator has the link to pass on)."""
    row = await _one(session, invitation_id)
    home = await session.scalar(select(I.name).where(I.is_home.is_(True))) or "LibCoop"
    with i18n.using(row.language):  # in the language the administrator chose for the invited person
        role = i18n.gettext(ROLE_LABELS[Role(row.role)])
        greeting = i18n.gettext("Dear %(name)s,", name=row.name)
        invites = i18n.gettext(
            "%(home)s invites you to LibCoop, where its international cooperation is managed, as %(role)s (%(code)s).",
            home=home,
            role=role,
            code=row.code,
        )
        choose = i18n.gettext("Choose your password here (the link works once, for %(hours)s hours):", hours=INVITATION_HOURS)
        ignore = i18n.gettext("If you did not expect this, ignore this message.")
        text = f"{greeting}\n\n{invites}\n\n{choose}\n{link}\n\n{ignore}\n— LibCoop"
        html = (
            f"<p>{escape(greeting)}</p><p>{escape(invites)}</p>"
            f'<p>{escape(choose)}<br><a href="{escape(link)}">{escape(link)}</a></p>'
            f"<p>{escape(ignore)}</p><p>— LibCoop</p>"
        )
        subject = i18n.gettext("Your LibCoop account")
    try:
        await mail.send(settings, mail.message(settings, to=row.email, subject=subject, text=text, html=html))
    except (mail.MailError, OSError) as exc:
        await session.execute(update(Invitation).where(V.id == invitation_id).values(send_error=str(exc)[:500]))
        if not isinstance(exc, mail.MailNotConfigured):
            log.warning("invitation not e-mailed", error=str(exc)[:200])
    else:
        await session.execute(update(Invitation).where(V.id == invitation_id).values(sent_at=utcnow(), send_error=None))
    await session.commit()


@dataclass
class Pending:
    id: uuid.UUID
    email: str
    name: str
    role: str
    institution_name: str
    institution_id: uuid.UUID
    institution_code: str


async def pending(session: AsyncSession, token: str) -> Pending:
    """The invitation behind a link, while it can still be used; NotFoundError otherwise (used, revoked, expired
    and unknown links look the same)."""
    row = (
        await session.execute(
            select(V.id, V.email, V.name, V.role, I.name.label("institution_name"), I.id.label("institution_id"), I.code)
            .join(table(Institution), I.id == V.institution_id)
            .where(V.token_hash == token_digest(token), V.accepted_at.is_(None), V.revoked_at.is_(None), V.expires_at > utcnow())
        )
    ).first()
    if row is None:
        raise NotFoundError("invitation link")
    return Pending(row.id, row.email, row.name, row.role, row.institution_name, row.institution_id, row.code)


async def _claim(session: AsyncSession, invitation_id: uuid.UUID) -> Any:
    now = utcnow()
    claimed = await session.execute(
        update(Invitation)
        .where(V.id == invitation_id, V.accepted_at.is_(None), V.revoked_at.is_(None), V.expires_at > now)
        .values(accepted_at=now)
        .returning(V.email, V.name, V.role, V.institution_id, V.language, V.person_id)
    )
    row = claimed.first()
    if row is None:
        raise NotFoundError("invitation link")
    return row


async def _link_person(session: AsyncSession, person_id: uuid.UUID | None, user_id: uuid.UUID) -> None:
    if person_id is not None:
        P = table(Person).c
        await session.execute(update(Person).where(P.id == person_id, P.user_id.is_(None)).values(user_id=user_id))


async def accept_through_provider(session: AsyncSession, invitation_id: uuid.UUID, issuer: str, subject: str, email: str | None) -> User:
    """The invited person signed in with their institution's provider instead of choosing a password: the account is
    made as invited (e-mail, role, institution) and bound to that identity. sso.finish calls this; it commits."""
    W = table(UserIdentity).c
    if await session.scalar(select(W.id).where(W.issuer == issuer, W.subject == subject)) is not None:
        raise ConflictError(i18n.gettext("This institution account is linked to a LibCoop account already: sign in with it instead."))
    row = await _claim(session, invitation_id)
    user = await create_user(session, None, email=row.email, name=row.name, role=Role(row.role), institution_id=row.institution_id)
    user.language = row.language
    session.add(UserIdentity(user_id=user.id, issuer=issuer, subject=subject, email=email, last_used_at=utcnow()))
    await session.execute(update(Invitation).where(V.id == invitation_id).values(user_id=user.id))
    await _link_person(session, row.person_id, user.id)
    audit.record(session, None, "accept_invitation", "user", user.id, summary=f"{user.email} accepted the invitation through {issuer}")
    await session.flush()
    return user


async def accept(session: AsyncSession, token: str, data: AcceptIn) -> User:
    """Claim the invitation (one UPDATE: a second use finds it taken), create the account with its password, link the
    person record named by the invitation."""
    found = await pending(session, token)
    now = utcnow()
    claimed = await session.execute(
        update(Invitation)
        .where(V.id == found.id, V.accepted_at.is_(None), V.revoked_at.is_(None), V.expires_at > now)
        .values(accepted_at=now)
        .returning(V.institution_id, V.language, V.person_id, V.created_by_id)
    )
    row = claimed.first()
    if row is None:
        raise NotFoundError("invitation link")
    user = await create_user(
        session, None, email=found.email, name=found.name, role=Role(found.role), password=data.password, institution_id=row.institution_id
    )
    user.language = row.language
    await session.execute(update(Invitation).where(V.id == found.id).values(user_id=user.id))
    if row.person_id is not None:
        await session.execute(
            update(Person).where(table(Person).c.id == row.person_id, table(Person).c.user_id.is_(None)).values(user_id=user.id)
        )
    else:  # the invitation named nobody: the person of that institution with the same e-mail, if there is exactly one
        await link_person_by_email(session, user)
    audit.record(session, None, "accept_invitation", "user", user.id, summary=f"{user.email} accepted the invitation")
    await session.commit()
    return user


@dataclass
class MailStatus:
    configured: bool
    server: str | None
    last_error: str | None
    last_error_at: datetime | None


async def mail_status(session: AsyncSession, settings: Settings) -> MailStatus:
    """Whether e-mail is set up, and the latest failure of an invitation or a report e-mail (for the Users page)."""
    from cooperation.reports.models import ReportDelivery

    D = table(ReportDelivery).c
    failures = [
        *(
            await session.execute(
                select(V.send_error, V.created_at).where(V.send_error.is_not(None)).order_by(V.created_at.desc()).limit(1)
            )
        ),
        *(
            await session.execute(
                select(D.last_error, D.next_attempt_at)
                .where(D.status == "failed", D.last_error.is_not(None))
                .order_by(D.next_attempt_at.desc())
                .limit(1)
            )
        ),
    ]
    latest = max(failures, key=lambda f: f[1] or datetime.min.replace(tzinfo=utcnow().tzinfo), default=None)
    server = f"{settings.smtp_host}:{settings.smtp_port}" if settings.mail_enabled else None
    return MailStatus(settings.mail_enabled, server, latest[0] if latest else None, latest[1] if latest else None)


# ---- passwords: forgotten, changed; the profile -----------------------------------------------------------------

RESET_MINUTES = 60
R = table(PasswordReset).c


class ProfileIn(msgspec.Struct, forbid_unknown_fields=True):
    name: Annotated[str, msgspec.Meta(min_length=1, max_length=200)]
    language: Language = "en"
    time_zone: Annotated[str, msgspec.Meta(min_length=1, max_length=64)] = "Asia/Ho_Chi_Minh"


async def request_reset(session: AsyncSession, settings: Settings, base_url: str, email: str) -> str | None:
    """A reset link e-mailed to the account with this address, if there is an active one. The caller answers the
    same whatever happened (whether an address has an account is nobody's business); the link is returned for the
    operator's command (`coop users reset-password`), never shown on a page."""
    user = await session.scalar(select(User).where(U.email == email.strip().lower(), U.active.is_(True), U.archived_at.is_(None)))
    if user is None:
        return None
    now = utcnow()
    await session.execute(update(PasswordReset).where(R.user_id == user.id, R.used_at.is_(None)).values(used_at=now))  # older links die
    token = secrets.token_urlsafe(32)
    session.add(
        PasswordReset(user_id=user.id, token_hash=token_digest(token), created_at=now, expires_at=now + timedelta(minutes=RESET_MINUTES))
    )
    audit.record(session, None, "password_reset_requested", "user", user.id, summary=f"Password reset asked for {user.email}")
    await session.commit()
    link = f"{base_url.rstrip('/')}/password/reset/{token}"
    with i18n.using(user.language):  # in the account holder's language, whoever's browser asked
        asked = i18n.gettext(
            "Someone (we hope you) asked to choose a new LibCoop password for %(email)s. The link works once, for %(minutes)s minutes:",
            email=user.email,
            minutes=RESET_MINUTES,
        )
        ignore = i18n.gettext("If it was not you, ignore this message: your password stays as it is.")
        text = f"{i18n.gettext('Dear %(name)s,', name=user.name)}\n\n{asked}\n{link}\n\n{ignore}\n— LibCoop"
        subject = i18n.gettext("Choose a new LibCoop password")
    try:
        await mail.send(settings, mail.message(settings, to=user.email, subject=subject, text=text))
    except (mail.MailError, OSError) as exc:
        log.warning("password reset not e-mailed", error=str(exc)[:200])
    return link


async def request_reset_later(factory: Any, settings: Settings, base_url: str, email: str) -> None:
    """`request_reset` in a session of its own, after the page has answered (mail.Later): nobody waits for it, so
    whatever goes wrong goes to the log."""
    async with factory() as session:
        try:
            await request_reset(session, settings, base_url, email)
        except Exception:  # no request is there to answer with it: the log is where it shows
            log.exception("password reset not made")


async def reset_user(session: AsyncSession, token: str) -> User:
    """The account a reset link is for, while it can be used; NotFoundError otherwise."""
    user = await session.scalar(
        select(User)
        .join(table(PasswordReset), R.user_id == U.id)
        .where(R.token_hash == token_digest(token), R.used_at.is_(None), R.expires_at > utcnow(), U.active.is_(True))
    )
    if user is None:
        raise NotFoundError("reset link")
    return user


async def reset_password(session: AsyncSession, token: str, password: str) -> User:
    """Use the link once (one UPDATE claims it), set the password, end every session of the account."""
    user = await reset_user(session, token)
    new_hash = hash_password(password, email=user.email)
    claimed = await session.execute(
        update(PasswordReset).where(R.token_hash == token_digest(token), R.used_at.is_(None)).values(used_at=utcnow()).returning(R.id)
    )
    if claimed.first() is None:
        raise NotFoundError("reset link")
    user.password_hash = new_hash
    await end_sessions(session, user.id)
    audit.record(session, None, "password_reset", "user", user.id, summary=f"New password chosen for {user.email} by e-mailed link")
    await session.commit()
    revocation.forget_here()
    return user


async def change_password(session: AsyncSession, principal: Principal, current: str, new: str, *, keep_token: str | None) -> int:
    """The new password; every other session of the account ends (a password changed because it leaked must not
    leave the intruder signed in), in every process. `keep_token` is this browser's. Returns how many ended."""
    user = await session.get(User, principal.user_id)
    assert user is not None
    if not user.password_hash or not verify_password(user.password_hash, current):
        raise ValidationFailed({"current_password": i18n.gettext("is not your current password")})
    user.password_hash = hash_password(new, email=user.email)
    s = table(AuthSession).c
    others = delete(AuthSession).where(s.user_id == user.id, s.token_hash != (token_digest(keep_token) if keep_token else ""))
    ended = int((await session.execute(others)).rowcount)  # type: ignore[attr-defined]
    await revocation.announce(session)
    audit.record(session, principal, "password_changed", "user", user.id, summary=f"Password changed; {ended} other sessions ended")
    await session.commit()
    revocation.forget_here()
    return ended


async def choose_language(session: AsyncSession, principal: Principal, language: str) -> None:
    """The switcher's choice kept in the profile (every process forgets its cached principal: the next page speaks it)."""
    if principal.language == language:
        return
    user = await session.get(User, principal.user_id)
    assert user is not None
    user.language = language
    await revocation.announce(session)
    await session.commit()
    revocation.forget_here()


async def update_profile(session: AsyncSession, principal: Principal, data: ProfileIn) -> None:
    from zoneinfo import available_timezones

    if data.time_zone not in available_timezones():
        raise ValidationFailed(
            {"time_zone": i18n.gettext("%(value)s is not a time zone such as Asia/Ho_Chi_Minh", value=repr(data.time_zone))}
        )
    user = await session.get(User, principal.user_id)
    assert user is not None
    user.name, user.language, user.time_zone = data.name.strip(), data.language, data.time_zone
    audit.record(session, principal, "update_profile", "user", user.id, summary="Profile changed")
    await revocation.announce(session)  # the name and time zone shown come from the cached principal
    await session.commit()
    revocation.forget_here()


async def revoke_tokens(session: AsyncSession, user_id: uuid.UUID) -> None:
    """A deactivated account's API tokens are refused by the active check already; revoking them too means a
    reactivation does not bring old scripts back."""
    await session.execute(
        update(ApiToken).where(table(ApiToken).c.user_id == user_id, table(ApiToken).c.revoked_at.is_(None)).values(revoked_at=utcnow())
    )
