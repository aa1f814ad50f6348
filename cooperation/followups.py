"""Follow-up actions: who does what, by when, after a visit, an exchange or any record that holds them.

Which records hold follow-ups follows the record (files.register_owner); who reads each action is its audience
(access.piece_visible): the department only by default for the department's own actions, shared with the record's
partners when chosen, and an action a partner institution is responsible for is that partner's (and the
department's), never another partner's. Staff who manage records create and edit them; a partner updates the
status of the actions its institution owns. Each person sees the actions they own on their dashboard.
"""

import dataclasses
import re
import uuid
from datetime import date, datetime, timedelta
from enum import StrEnum
from typing import Annotated, Any

import msgspec
from litestar import Request, Response, get, patch, post
from litestar.di import NamedDependency
from litestar.params import FromPath, JSONBody
from sqlalchemy import and_, func, or_, select
from sqlalchemy.ext.asyncio import AsyncSession
from sqlmodel import Field

from cooperation import audit, i18n
from cooperation.auth.access import (
    Audience,
    Principal,
    may_change_part_of,
    may_see_any,
    partner_reader,
    piece_audience,
    piece_visible,
    require_manager,
)
from cooperation.auth.models import User
from cooperation.db import UTCDateTime, table, utcnow
from cooperation.errors import ForbiddenError, NotFoundError, ValidationFailed
from cooperation.files import resolve_owner
from cooperation.forms import parse_form
from cooperation.i18n import N_
from cooperation.partners.dormancy import activity, day_of
from cooperation.partners.models import Institution, Person
from cooperation.records import RecordBase, changes_between, nfc, row_to, update_versioned
from cooperation.reminders import send_digest
from cooperation.web import form_dict, form_version, see_other


class FollowUpStatus(StrEnum):
    OPEN = "open"
    IN_PROGRESS = "in_progress"
    DONE = "done"
    CANCELLED = "cancelled"


i18n.register_labels({"open": N_("Open"), "in_progress": N_("In progress"), "done": N_("Done"), "cancelled": N_("Cancelled")})


class FollowUp(RecordBase, table=True):
    __tablename__ = "follow_up"

    owner_type: str = Field(max_length=40, index=True)
    owner_id: uuid.UUID = Field(index=True)
    text: str = Field(max_length=1000)
    responsible_institution_id: uuid.UUID = Field(foreign_key="institution.id", index=True)
    responsible_person_id: uuid.UUID | None = Field(default=None, foreign_key="person.id", nullable=True)
    due_on: date | None = Field(default=None, index=True)
    status: str = Field(default="open", max_length=20)
    notes: str | None = Field(default=None, max_length=2000)
    done_at: datetime | None = Field(default=None, sa_type=UTCDateTime, nullable=True)
    audience: str = Field(default=Audience.DEPARTMENT.value, max_length=20)


class FollowUpIn(msgspec.Struct, forbid_unknown_fields=True):
    text: Annotated[str, msgspec.Meta(min_length=1, max_length=1000)]
    responsible_institution_id: uuid.UUID
    responsible_person_id: uuid.UUID | None = None
    due_on: date | None = None
    notes: Annotated[str, msgspec.Meta(max_length=2000)] | None = None
    # For the department's own actions: `department` (the default) or `partners`. An action a partner institution
    # is responsible for is always shared with that partner (it has to see it to do it).
    audience: Audience | None = None


class FollowUpProgressIn(msgspec.Struct, forbid_unknown_fields=True):
    status: FollowUpStatus
    version: int
    notes: Annotated[str, msgspec.Meta(max_length=2000)] | None = None


class FollowUpOut(msgspec.Struct):
    id: uuid.UUID
    owner_type: str
    owner_id: uuid.UUID
    text: str
    responsible_institution_id: uuid.UUID
    responsible_institution_code: str
    responsible_person_id: uuid.UUID | None
    responsible_person_name: str | None
    due_on: date | None
    status: str
    notes: str | None
    version: int
    audience: str = Audience.DEPARTMENT.value
    overdue: bool = False
    may_update: bool = False
    institution_id: uuid.UUID | None = None  # whose piece it is, for its label (the responsible institution)

    def __post_init__(self) -> None:
        self.institution_id = self.responsible_institution_id


F = table(FollowUp).c
I = table(Institution).c  # noqa: E741
P = table(Person).c
U = table(User).c
OPEN_STATES = (FollowUpStatus.OPEN.value, FollowUpStatus.IN_PROGRESS.value)


def _select() -> Any:
    return (
        select(
            F.id,
            F.owner_type,
            F.owner_id,
            F.text,
            F.responsible_institution_id,
            I.code,
            F.responsible_person_id,
            P.name,
            F.due_on,
            F.status,
            F.notes,
            F.version,
            F.audience,
        )
        .select_from(
            table(FollowUp)
            .join(table(Institution), I.id == F.responsible_institution_id)
            .outerjoin(table(Person), P.id == F.responsible_person_id)
        )
        .where(F.archived_at.is_(None))
    )


def _out(row: Any, today: date, principal: Principal) -> FollowUpOut:
    item = row_to(FollowUpOut, row)
    item.overdue = item.due_on is not None and item.due_on < today and item.status in OPEN_STATES
    item.may_update = may_change_part_of(principal, item.responsible_institution_id)
    return item


def _heard(principal: Principal) -> Any:
    """SQL: this person reads the action (its audience; the responsible institution stands for its writer)."""
    return piece_visible(principal, F.audience, F.responsible_institution_id)


async def list_for(session: AsyncSession, principal: Principal, owner_type: str, owner_id: uuid.UUID) -> list[FollowUpOut]:
    """Callers have already checked that the owner record is visible."""
    rows = await session.execute(
        _select().where(F.owner_type == owner_type, F.owner_id == owner_id, _heard(principal)).order_by(F.due_on, F.created_at)
    )
    today = date.today()
    return [_out(r, today, principal) for r in rows]


async def list_for_many(
    session: AsyncSession, principal: Principal, owner_type: str, owner_ids: list[uuid.UUID], *, open_only: bool = False
) -> dict[uuid.UUID, list[FollowUpOut]]:
    """The actions of many records in one query (reports). Callers have already checked the records are visible."""
    found: dict[uuid.UUID, list[FollowUpOut]] = {}
    if not owner_ids:
        return found
    statement = _select().where(F.owner_type == owner_type, F.owner_id.in_(owner_ids), _heard(principal))
    if open_only:
        statement = statement.where(F.status.in_(OPEN_STATES))
    today = date.today()
    for row in await session.execute(statement.order_by(F.due_on, F.created_at)):
        item = _out(row, today, principal)
        found.setdefault(item.owner_id, []).append(item)
    return found


async def add(session: AsyncSession, principal: Principal, owner_type: str, owner_id: uuid.UUID, data: FollowUpIn) -> uuid.UUID:
    owner = await resolve_owner(session, principal, owner_type, owner_id)
    require_manager(principal, f"add follow-up actions to {owner.label}")
    errors: dict[str, str] = {}
    responsible = await session.get(Institution, data.responsible_institution_id)
    if responsible is None:
        errors["responsible_institution_id"] = i18n.gettext("no such institution")
    if data.responsible_person_id is not None:
        person = await session.get(Person, data.responsible_person_id)
        if person is None:
            errors["responsible_person_id"] = i18n.gettext("no such person")
        elif person.institution_id != data.responsible_institution_id:
            errors["responsible_person_id"] = i18n.gettext("the person works at another institution")
    if responsible is not None and not errors and not responsible.is_home:
        # The responsible institution will see the action (its text, its link): it must take part in the record.
        try:
            await resolve_owner(session, partner_reader(responsible.id), owner_type, owner_id)
        except NotFoundError:
            errors["responsible_institution_id"] = i18n.gettext(
                "%(code)s does not take part in %(record)s: it could not see this action", code=responsible.code, record=owner.label
            )
    if errors:
        raise ValidationFailed(errors)
    assert responsible is not None
    chosen = piece_audience(principal, data.audience.value if data.audience else None)
    if not responsible.is_home:
        chosen = Audience.PARTNERS  # the partner responsible has to see what it is to do
    action = FollowUp(
        owner_type=owner_type,
        owner_id=owner_id,
        text=nfc(data.text.strip()),
        responsible_institution_id=data.responsible_institution_id,
        responsible_person_id=data.responsible_person_id,
        due_on=data.due_on,
        notes=nfc(data.notes) if data.notes else None,
        audience=chosen.value,
    )
    session.add(action)
    await session.flush()
    audit.record(
        session,
        principal,
        "add_follow_up",
        owner_type,
        owner_id,
        summary=f"Follow-up: {action.text[:200]}" + (f" (due {data.due_on.isoformat()})" if data.due_on else ""),
        changes={"audience": [None, chosen.value]},  # a webhook for a partner never hears of a department-only action
    )
    await session.commit()
    return action.id


async def record_progress(session: AsyncSession, principal: Principal, follow_up_id: uuid.UUID, data: FollowUpProgressIn) -> FollowUpOut:
    action = await session.get(FollowUp, follow_up_id)
    if action is None or action.archived_at is not None:
        raise NotFoundError("follow-up action")
    owner = await resolve_owner(session, principal, action.owner_type, action.owner_id)
    if await session.scalar(select(F.id).where(F.id == follow_up_id, _heard(principal))) is None:
        raise NotFoundError("follow-up action")  # a department-only action does not exist for a partner
    if not may_change_part_of(principal, action.responsible_institution_id):
        raise ForbiddenError(
            i18n.gettext("Only the coordinators of %(record)s or the institution responsible may update this action.", record=owner.label)
        )
    before = {"status": action.status, "notes": action.notes}
    values: dict[str, Any] = {"status": data.status.value}
    if data.notes is not None:
        values["notes"] = nfc(data.notes.strip()) or None
    values["done_at"] = utcnow() if data.status is FollowUpStatus.DONE else None
    await update_versioned(session, FollowUp, follow_up_id, data.version, values, what="follow-up action")
    audit.record(
        session,
        principal,
        "follow_up_progress",
        action.owner_type,
        action.owner_id,
        summary=f"Follow-up “{action.text[:120]}”: {data.status.value}",
        changes=changes_between(before, values),
    )
    await session.commit()
    row = (await session.execute(_select().where(F.id == follow_up_id))).one()
    return _out(row, date.today(), principal)


@dataclasses.dataclass(frozen=True)
class Reachable:
    """Someone an action can name, and how it reaches them."""

    id: uuid.UUID
    name: str
    code: str
    signs_in: bool  # linked to an account: on their home page and in the daily reminder
    email: str | None  # else the daily reminder at this address; neither: the department follows it up itself


async def reachable(session: AsyncSession, principal: Principal, institution_ids: list[uuid.UUID]) -> list[Reachable]:
    """The people of these institutions (the department's and the record's partners') an action can be given to,
    for the form that gives it (staff only: a partner gives no action)."""
    if not principal.manages_records or not institution_ids:
        return []
    rows = await session.execute(
        select(P.id, P.name, I.code, P.user_id.is_not(None), P.email)
        .join_from(table(Person), table(Institution), I.id == P.institution_id)
        .where(P.institution_id.in_(institution_ids), P.archived_at.is_(None))
        .order_by(I.is_home.desc(), I.code, P.name)
    )
    return [Reachable(*row) for row in rows]


def _visible_record(principal: Principal) -> Any:
    """The action's record is one this person may see: a follow-up names its record (text and link)."""
    return may_see_any(principal, F.owner_type, F.owner_id)


def _owned_by(principal: Principal) -> list[Any]:
    """Actions whose responsible person is linked to this account (never a matching e-mail) or, for a partner, its institution's."""
    owned: list[Any] = [F.responsible_person_id.in_(select(P.id).where(P.user_id == principal.user_id))]
    if principal.is_partner and principal.institution_id is not None:
        owned.append(F.responsible_institution_id == principal.institution_id)
    return owned


async def due_for(session: AsyncSession, principal: Principal, *, within_days: int = 30, limit: int = 20) -> list[FollowUpOut]:
    """Open actions this person owns (as the responsible person's linked account) or, for a partner, its institution owns."""
    owned = _owned_by(principal)
    horizon = date.today() + timedelta(days=within_days)
    rows = await session.execute(
        _select()
        .where(
            or_(*owned),
            _visible_record(principal),
            _heard(principal),
            F.status.in_(OPEN_STATES),
            or_(F.due_on.is_(None), F.due_on <= horizon),
        )
        .order_by(F.due_on, F.created_at)
        .limit(limit)
    )
    today = date.today()
    return [_out(r, today, principal) for r in rows]


# ---- routes -------------------------------------------------------------------------------------


@get("/api/v1/follow-ups/{owner_type:str}/{owner_id:uuid}", name="api_follow_ups", tags=["follow-ups"])
async def api_list(
    db: NamedDependency[AsyncSession], principal: NamedDependency[Principal], owner_type: FromPath[str], owner_id: FromPath[uuid.UUID]
) -> list[FollowUpOut]:
    """The follow-up actions of a record (e.g. owner_type `visit`), by due date."""
    await resolve_owner(db, principal, owner_type, owner_id)
    return await list_for(db, principal, owner_type, owner_id)


@post("/api/v1/follow-ups/{owner_type:str}/{owner_id:uuid}", name="api_follow_up_create", tags=["follow-ups"])
async def api_add(
    db: NamedDependency[AsyncSession],
    principal: NamedDependency[Principal],
    owner_type: FromPath[str],
    owner_id: FromPath[uuid.UUID],
    data: JSONBody[FollowUpIn],
) -> FollowUpOut:
    """Add a follow-up action to a record: its text, the responsible institution (and person), a due date."""
    follow_up_id = await add(db, principal, owner_type, owner_id, data)
    return next(f for f in await list_for(db, principal, owner_type, owner_id) if f.id == follow_up_id)


@patch("/api/v1/follow-ups/{follow_up_id:uuid}", name="api_follow_up_progress", tags=["follow-ups"])
async def api_progress(
    db: NamedDependency[AsyncSession],
    principal: NamedDependency[Principal],
    follow_up_id: FromPath[uuid.UUID],
    data: JSONBody[FollowUpProgressIn],
) -> FollowUpOut:
    """Report progress (a partner: on the actions its institution is responsible for)."""
    return await record_progress(db, principal, follow_up_id, data)


@get("/api/v1/follow-ups/mine", name="api_follow_ups_mine", tags=["follow-ups"])
async def api_mine(db: NamedDependency[AsyncSession], principal: NamedDependency[Principal]) -> list[FollowUpOut]:
    """Your open follow-up actions due within 30 days (or without a date), overdue first."""
    return await due_for(db, principal)


@post("/follow-ups/{follow_up_id:uuid}/progress", name="follow_up_progress")
async def page_progress(
    request: Request[Any, Any, Any],
    db: NamedDependency[AsyncSession],
    principal: NamedDependency[Principal],
    follow_up_id: FromPath[uuid.UUID],
) -> Response[Any]:
    form = await form_dict(request)
    status = str(form.get("status") or "")
    if status not in FollowUpStatus.__members__.values():
        raise ValidationFailed({"status": i18n.gettext("unknown status %(value)s", value=repr(status))})
    done = await record_progress(db, principal, follow_up_id, FollowUpProgressIn(status=FollowUpStatus(status), version=form_version(form)))
    owner = await resolve_owner(db, principal, done.owner_type, done.owner_id)
    return see_other(owner.url + "#follow-ups")


@post("/follow-ups/{owner_type:str}/{owner_id:uuid}", name="follow_up_create")
async def page_add(
    request: Request[Any, Any, Any],
    db: NamedDependency[AsyncSession],
    principal: NamedDependency[Principal],
    owner_type: FromPath[str],
    owner_id: FromPath[uuid.UUID],
) -> Response[Any]:
    """The record page's "add a follow-up action" form, or several actions pasted as lines ("Text — NLC —
    2026-01-31": the institution responsible by its code, the department's when left out; the due day if any). Every
    line is read before any is recorded: a bad one names its line and none is added."""
    owner = await resolve_owner(db, principal, owner_type, owner_id)  # an unseen record is 404 before its form is read
    form = await form_dict(request)
    if "lines" not in form:
        await add(db, principal, owner_type, owner_id, parse_form(FollowUpIn, form))
        return see_other(owner.url + "#follow-ups")
    taking_part = or_(I.is_home.is_(True), I.id.in_(owner.partner_ids))
    codes: dict[str, uuid.UUID] = dict((await db.execute(select(I.code, I.id).where(taking_part))).all())
    home = await db.scalar(select(I.id).where(I.is_home.is_(True)))
    actions: list[FollowUpIn] = []
    errors: dict[str, str] = {}
    for number, line in enumerate((raw.strip(" \t•-*·") for raw in str(form.get("lines") or "").splitlines()), start=1):
        if not line:
            continue
        text, *rest = (part.strip() for part in re.split(r"\s+[—–]\s+|\s+--?\s+", line))
        fields: dict[str, Any] = {"text": text, "responsible_institution_id": str(home or "")}
        for part in rest:
            if re.fullmatch(r"\d{4}-\d{2}-\d{2}", part):
                fields["due_on"] = part
            elif part.upper() in codes:
                fields["responsible_institution_id"] = str(codes[part.upper()])
            else:
                said = i18n.gettext("%(part)s is neither an institution of this record nor a day (2026-01-31)", part=part)
                errors[f"line {number}"] = said
        try:
            actions.append(parse_form(FollowUpIn, fields | {"audience": form.get("audience") or ""}))
        except ValidationFailed as exc:
            errors |= {f"line {number}": "; ".join(f"{k}: {v}" for k, v in exc.errors.items())}
    if not actions and not errors:
        errors["lines"] = i18n.gettext("one action a line: “Send the documentation — NLC — 2026-01-31”")
    if errors:
        raise ValidationFailed(errors)
    for action in actions:
        await add(db, principal, owner_type, owner_id, action)
    return see_other(owner.url + "#follow-ups")


routes = [api_mine, api_list, api_add, api_progress, page_progress, page_add]


async def dashboard_panel(session: AsyncSession, principal: Principal) -> Any:
    from cooperation.dashboard import Panel

    items = await due_for(session, principal)
    title = i18n.gettext("Your follow-up actions")
    return Panel(title=title, template="components/_followups_dashboard.html", order=5, context={"items": items})


async def calendar_events(session: AsyncSession, principal: Principal, start: date, end: date) -> list[Any]:
    """Due dates of the open actions this person (or, for a partner, its institution) owns."""
    from cooperation.calendar import CalendarEvent

    owned = _owned_by(principal)
    rows = await session.execute(
        _select().where(
            or_(*owned), _visible_record(principal), _heard(principal), F.status.in_(OPEN_STATES), F.due_on >= start, F.due_on <= end
        )
    )
    return [
        CalendarEvent(
            uid=f"follow-up-{r.id}",
            summary=i18n.gettext("Due: %(text)s", text=r.text),
            start=r.due_on,
            end=r.due_on,
            description=i18n.gettext("Responsible: %(who)s", who=r.code + (f", {r.name}" if r.name else "")),
            url=("/visits/" if r.owner_type == "visit" else f"/{r.owner_type}s/") + f"{r.owner_id}#follow-ups",
            sequence=r.version - 1,
        )
        for r in rows
    ]


# ---- the daily reminder (run by the scheduler) ----------------------------------------------------

REMIND_DAYS_AHEAD = 7


async def send_due_reminders(factory: Any, settings: Any, today: date) -> int:
    """One e-mail per responsible person per day listing their open actions overdue or due within a week."""
    horizon = today + timedelta(days=REMIND_DAYS_AHEAD)
    async with factory() as session:
        # To the linked account's address when the person has one, else to the person's own contact address.
        address = func.coalesce(U.email, P.email)
        due = and_(F.archived_at.is_(None), F.status.in_(OPEN_STATES), F.due_on.is_not(None), F.due_on <= horizon)
        # A partner's people hear only of actions on records their institution may see (as on their pages).
        partners = list(
            await session.scalars(
                select(I.id).join(table(FollowUp), F.responsible_institution_id == I.id).where(due, I.is_home.is_(False)).distinct()
            )
        )
        seen = or_(I.is_home.is_(True), *(and_(I.id == i, _visible_record(partner_reader(i))) for i in partners))
        rows = await session.execute(
            select(address, F.text, F.due_on, I.code, U.language)
            .join_from(table(FollowUp), table(Person), P.id == F.responsible_person_id)
            .outerjoin(table(User), and_(U.id == P.user_id, U.active.is_(True)))
            .join(table(Institution), I.id == F.responsible_institution_id)
            .where(due, seen, address.is_not(None))
            .order_by(address, F.due_on)
        )
        by_person: dict[str, list[str]] = {}
        languages: dict[str, str] = {}
        for email, text, due_on, code, language in rows:
            # A person without an account reads the instance's language.
            with i18n.using(languages.setdefault(email, language or settings.default_language)):
                day = i18n.format_day(due_on)
                line = (
                    i18n.gettext("%(text)s (%(code)s), due %(day)s — overdue", text=text, code=code, day=day)
                    if due_on < today
                    else i18n.gettext("%(text)s (%(code)s), due %(day)s", text=text, code=code, day=day)
                )
            by_person.setdefault(email, []).append(line)
        sent = 0
        for email, lines in by_person.items():
            with i18n.using(languages[email]):
                subject = i18n.ngettext("LibCoop: %(num)d follow-up action due", "LibCoop: %(num)d follow-up actions due", len(lines))
            sent += await send_digest(
                session, settings, address=email, kind="follow-ups", day=today, subject=subject, lines=lines, language=languages[email]
            )
    return sent


def partner_activity() -> list[Any]:
    """A follow-up action given to the institution, or moved on by it (cooperation/partners/dormancy.py)."""
    return [activity(F.responsible_institution_id, "follow_up", day_of(F.updated_at))]
