"""Every rule and every write for delegation visits: validation, lifecycle, overlap checks, reading back."""

import uuid
from datetime import date
from typing import Any

from sqlalchemy import and_, case, delete, null, or_, select
from sqlalchemy.ext.asyncio import AsyncSession

from agreements.models import Agreement, Commitment, CommitmentLink
from agreements.services import Measured, link_commitment, pace
from cooperation import audit, i18n, versions
from cooperation.auth.access import (
    Principal,
    may_change_part_of,
    may_see,
    may_see_any,
    piece_visible,
    require_manager,
    seen,
    shared_on_creation,
    visible,
)
from cooperation.db import table
from cooperation.errors import ConflictError, ForbiddenError, NotFoundError, StaleVersionError, TransitionRefused, ValidationFailed
from cooperation.files import Owner
from cooperation.i18n import N_
from cooperation.partners.dormancy import activity
from cooperation.partners.models import Institution, Person
from cooperation.partners.schemas import PersonIn
from cooperation.partners.services import add_person
from cooperation.records import (
    ByName,
    changes_between,
    distinct_labels,
    fetch_page,
    fold_for_search,
    nfc,
    order_by,
    row_to,
    search_terms,
    update_versioned,
)
from cooperation.review import record_decision
from exchanges import gift_services
from exchanges.models import AgendaItem, ExpertExchange, Gift, Visit, VisitOutcome, VisitParticipant
from exchanges.schemas import (
    AgendaItemOut,
    AgreementLink,
    Direction,
    GiftOut,
    OutcomeIn,
    OutcomeOut,
    ParticipantOut,
    Side,
    VisitIn,
    VisitOut,
    VisitPage,
    VisitRow,
    VisitStatus,
    VisitTransitionIn,
    VisitUpdate,
)

V = table(Visit).c
VP = table(VisitParticipant).c
I = table(Institution).c  # noqa: E741
P = table(Person).c
A = table(Agreement).c
S = VisitStatus

# A visit recorded after it happened goes straight to completed (from proposed or confirmed) once its last day is here.
TRANSITIONS: dict[VisitStatus, tuple[VisitStatus, ...]] = {
    S.PROPOSED: (S.CONFIRMED, S.COMPLETED, S.CANCELLED),
    S.CONFIRMED: (S.UNDER_WAY, S.COMPLETED, S.PROPOSED, S.CANCELLED),
    S.UNDER_WAY: (S.COMPLETED,),
    S.COMPLETED: (),
    S.CANCELLED: (S.PROPOSED,),
}
# The statuses as a sentence says them ("a visit that is under way"); badges use the registered labels.
LABELS = {
    S.PROPOSED: N_("proposed"),
    S.CONFIRMED: N_("confirmed"),
    S.UNDER_WAY: N_("under way"),
    S.COMPLETED: N_("completed"),
    S.CANCELLED: N_("cancelled"),
}
# An agreement "implements" a visit when it was in one of these states over the visit's dates.
AGREEMENT_IN_FORCE = ("in_force", "expired", "superseded")


def _date_refusal(target: VisitStatus, starts_on: date, ends_on: date, today: date) -> str | None:
    if target is S.UNDER_WAY and not starts_on <= today <= ends_on:
        return i18n.gettext(
            "A visit is under way only between %(start)s and %(end)s.", start=i18n.format_day(starts_on), end=i18n.format_day(ends_on)
        )
    if target is S.COMPLETED and today < ends_on:
        return i18n.gettext("The visit runs until %(day)s; it cannot be completed before then.", day=i18n.format_day(ends_on))
    return None


def starting_status(data: VisitIn, today: date) -> VisitStatus:
    """A new visit's status: as chosen (the dates must allow it; the page chooses as the dates say), or proposed."""
    if data.status is None:
        return S.PROPOSED
    chosen = VisitStatus(data.status)
    if chosen is S.CANCELLED:
        raise ValidationFailed({"status": i18n.gettext("a visit is recorded first, then cancelled with a note saying why")})
    refusal = _date_refusal(chosen, data.starts_on, data.ends_on, today)
    if refusal:
        raise ValidationFailed({"status": refusal})
    return chosen


def next_statuses(status: VisitStatus, starts_on: date, ends_on: date, today: date) -> list[VisitStatus]:
    """The statuses a visit may move to today (the dates decide whether it can be under way or completed)."""
    return [t for t in TRANSITIONS[status] if _date_refusal(t, starts_on, ends_on, today) is None]


def visit_visibility(principal: Principal) -> Any:
    taking_part = select(I.id).where(I.id.in_([V.host_institution_id, V.visiting_institution_id]))
    return visible(principal, participants=taking_part, internal=V.shared.is_(False))


async def _home_id(session: AsyncSession) -> uuid.UUID | None:
    return await session.scalar(select(I.id).where(I.is_home.is_(True)).limit(1))


async def _overlaps(session: AsyncSession, data: VisitIn, visit_id: uuid.UUID | None) -> list[str]:
    person_ids = {p.person_id for p in data.participants if p.person_id}
    return await overlaps(session, person_ids, data.starts_on, data.ends_on, visit_id)


async def overlaps(
    session: AsyncSession, person_ids: set[uuid.UUID], starts_on: date, ends_on: date, visit_id: uuid.UUID | None = None
) -> list[str]:
    """People of this visit who are also in another (not cancelled) visit at overlapping dates (the form asks as
    soon as dates and people are chosen; saving asks again)."""
    if not person_ids:
        return []
    statement = (
        select(P.name, V.title, V.starts_on, V.ends_on)
        .select_from(table(VisitParticipant).join(table(Visit), V.id == VP.visit_id).join(table(Person), P.id == VP.person_id))
        .where(VP.person_id.in_(person_ids), V.status != S.CANCELLED.value, V.archived_at.is_(None))
        .where(V.starts_on <= ends_on, V.ends_on >= starts_on)
    )
    if visit_id is not None:
        statement = statement.where(V.id != visit_id)
    return [
        i18n.gettext("%(name)s is also in “%(title)s” (%(dates)s)", name=name, title=title, dates=i18n.format_days(start, end))
        for name, title, start, end in await session.execute(statement)
    ]


async def _add_new_people(session: AsyncSession, principal: Principal, data: VisitIn, errors: dict[str, str]) -> None:
    """The participants described rather than chosen join the register (flushed, committed with the visit or rolled
    back with it); each then takes part by its new id."""
    for index, participant in enumerate(data.participants):
        if (participant.person_id is None) == (participant.new_person is None):
            errors[f"participants.{index}.person_id"] = i18n.gettext("choose a person or type a new one's name, not both")
            continue
        new = participant.new_person
        if new is None:
            continue
        side_institution = data.visiting_institution_id if participant.side is Side.DELEGATION else data.host_institution_id
        person = PersonIn(
            name=new.name,
            institution_id=new.institution_id or side_institution,
            name_native=new.name_native,
            position=new.position,
            department=new.department,
        )
        try:
            participant.person_id = await add_person(session, principal, person)
        except ValidationFailed as exc:
            errors |= {f"participants.{index}.{field}": message for field, message in exc.errors.items()}


async def _presenters_by_name(session: AsyncSession, data: VisitIn, errors: dict[str, str]) -> None:
    """Agenda presenters given by name (pasted lines: "Title — Rong Jie"): each one of the visit's people."""
    wanted = [item for item in data.agenda if item.presenter_names]
    if not wanted:
        return
    ids = [p.person_id for p in data.participants if p.person_id]
    names = {fold_for_search(n): i for i, n in await session.execute(select(P.id, P.name).where(P.id.in_(ids)))} if ids else {}
    names |= {fold_for_search(n): i for i, n in await session.execute(select(P.id, P.name_native).where(P.id.in_(ids))) if n} if ids else {}
    for index, item in enumerate(data.agenda):
        for name in item.presenter_names:
            found = names.get(fold_for_search(name))
            if found is None:
                errors[f"agenda.{index}.presenters"] = i18n.gettext("%(name)s is not one of the visit's people", name=name)
            elif found not in item.presenters:
                item.presenters.append(found)


async def _clean(session: AsyncSession, principal: Principal, data: VisitIn, visit_id: uuid.UUID | None = None) -> dict[str, Any]:
    errors: dict[str, str] = {}
    await _add_new_people(session, principal, data, errors)
    await _presenters_by_name(session, data, errors)
    if data.ends_on < data.starts_on:
        errors["ends_on"] = i18n.gettext("the visit cannot end before it starts")
    if data.host_institution_id == data.visiting_institution_id:
        errors["visiting_institution_id"] = i18n.gettext("the visiting institution must differ from the host")
    home = await _home_id(session)
    if data.direction is Direction.INCOMING and data.host_institution_id != home:
        errors["host_institution_id"] = i18n.gettext("an incoming visit is hosted by the home institution")
    if data.direction is Direction.OUTGOING and data.visiting_institution_id != home:
        errors["visiting_institution_id"] = i18n.gettext("on an outgoing visit the home institution is the visitor")
    known = set(
        await session.scalars(
            select(I.id).where(I.id.in_([data.host_institution_id, data.visiting_institution_id]), I.archived_at.is_(None))
        )
    )
    for field in ("host_institution_id", "visiting_institution_id"):
        if getattr(data, field) not in known:
            errors.setdefault(field, "no such institution")
    if (data.budget_amount is None) != (data.budget_currency is None):
        errors["budget_currency"] = i18n.gettext("give both the amount and its ISO 4217 currency (e.g. VND, CNY, USD)")
    elif data.budget_currency and not data.budget_currency.isalpha():
        errors["budget_currency"] = i18n.gettext("must be an ISO 4217 code such as VND")
    chosen = [p.person_id for p in data.participants if p.person_id]
    people = {row.id: row for row in await session.execute(select(P.id, P.position, P.department).where(P.id.in_(chosen)))}
    seen: set[tuple[uuid.UUID, str]] = set()
    for index, participant in enumerate(data.participants):
        if participant.person_id is None:
            continue  # said above
        if participant.person_id not in people:
            errors[f"participants.{index}.person_id"] = i18n.gettext("no such person")
        if (participant.person_id, participant.side.value) in seen:
            errors[f"participants.{index}.person_id"] = i18n.gettext("listed twice on the same side")
        seen.add((participant.person_id, participant.side.value))
    listed = {p.person_id for p in data.participants}
    for index, item in enumerate(data.agenda):
        if not data.starts_on <= item.day <= data.ends_on:
            errors[f"agenda.{index}.day"] = i18n.gettext("must fall within the visit's dates")
        if item.starts_at and item.ends_at and item.ends_at < item.starts_at:
            errors[f"agenda.{index}.ends_at"] = i18n.gettext("cannot end before it starts")
        if any(p not in listed for p in item.presenters):
            errors[f"agenda.{index}.presenters"] = i18n.gettext("presenters must be participants of the visit")
    if data.agreement_id is not None:
        agreement = (await session.execute(select(A.id).where(A.id == data.agreement_id))).first()
        if agreement is None:
            errors["agreement_id"] = i18n.gettext("no such agreement")
    if data.commitment_ids:
        commitments = table(Commitment).c
        owned = set(
            await session.scalars(
                select(commitments.id).where(commitments.id.in_(data.commitment_ids), commitments.agreement_id == data.agreement_id)
            )
        )
        if data.agreement_id is None or owned != set(data.commitment_ids):
            errors["commitment_ids"] = i18n.gettext("the commitments served must belong to the visit's agreement")
    translations, version_errors = versions.clean(data.translations)
    errors |= version_errors
    if errors:
        raise ValidationFailed(errors)
    overlaps = await _overlaps(session, data, visit_id)
    if overlaps and not data.confirm_overlaps:
        raise ConflictError(
            i18n.gettext(
                "Some people are in another visit at the same time: %(overlaps)s. Confirm to save anyway.", overlaps="; ".join(overlaps)
            ),
            errors={"confirm_overlaps": "; ".join(overlaps)},
        )
    title = nfc(data.title.strip())
    topics = distinct_labels(data.topics)
    text = lambda value: nfc(value.strip()) if value and value.strip() else None  # noqa: E731
    values: dict[str, Any] = {
        "title": title,
        "direction": data.direction.value,
        "host_institution_id": data.host_institution_id,
        "visiting_institution_id": data.visiting_institution_id,
        "starts_on": data.starts_on,
        "ends_on": data.ends_on,
        "city": text(data.city),
        "venue": text(data.venue),
        "purpose": nfc(data.purpose.strip()),
        "theme": text(data.theme),
        "topics": topics,
        "agreement_id": data.agreement_id,
        "commitment_ids": [str(c) for c in data.commitment_ids],
        "budget_amount": data.budget_amount,
        "budget_currency": data.budget_currency.upper() if data.budget_currency else None,
        "report": nfc(data.report.strip()),
        "public": data.public,
        "translations": translations,
    }
    values["search_text"] = fold_for_search(
        title, values["theme"], values["city"], values["purpose"], " ".join(topics), versions.search_words(translations)
    )
    values["_people"] = people
    return values


def _children(visit_id: uuid.UUID, data: VisitIn, people: dict[uuid.UUID, Any]) -> list[Any]:
    rows: list[Any] = []
    for position, p in enumerate(data.participants):
        assert p.person_id is not None  # _clean added the new people and refused rows naming nobody
        current = people.get(p.person_id)
        rows.append(
            VisitParticipant(
                visit_id=visit_id,
                person_id=p.person_id,
                side=p.side.value,
                role=p.role.value,
                position=position,
                position_at_time=nfc(p.position_at_time) if p.position_at_time else (current.position if current else None),
                department_at_time=nfc(p.department_at_time) if p.department_at_time else (current.department if current else None),
            )
        )
    for position, item in enumerate(data.agenda):
        rows.append(
            AgendaItem(
                visit_id=visit_id,
                day=item.day,
                starts_at=item.starts_at,
                ends_at=item.ends_at,
                place=item.place,
                title=nfc(item.title.strip()),
                presenters=[str(x) for x in item.presenters],
                notes=nfc(item.notes) if item.notes else None,
                notes_audience=item.notes_audience,
                position=position,
            )
        )
    rows += [
        VisitOutcome(visit_id=visit_id, text=nfc(o.text.strip()), audience=o.audience, position=i) for i, o in enumerate(outcomes_of(data))
    ]
    return rows


def outcomes_of(data: VisitIn) -> list[OutcomeIn]:
    """The visit's outcomes as written: a plain string (the API's older form) is the department's only."""
    return [OutcomeIn(text=o) if isinstance(o, str) else o for o in data.outcomes]


async def create_visit(session: AsyncSession, principal: Principal, data: VisitIn) -> uuid.UUID:
    require_manager(principal, N_("record visits"))
    values = await _clean(session, principal, data)
    values["shared"] = shared_on_creation(principal, data.shared)
    people = values.pop("_people")
    status = starting_status(data, date.today())
    visit = Visit(**values, status=status.value)
    session.add(visit)
    await session.flush()
    session.add_all(_children(visit.id, data, people))
    await gift_services.sync_visit_gifts(session, visit.id, values, data.gifts)
    await _link_commitments(session, principal, visit.id, data)
    audit.record(
        session,
        principal,
        "create",
        "visit",
        visit.id,
        summary=f"Visit “{values['title']}” recorded",
        changes={k: [None, v] for k, v in (values | {"status": status.value}).items() if k != "search_text"},
    )
    await session.commit()
    return visit.id


async def update_visit(session: AsyncSession, principal: Principal, visit_id: uuid.UUID, data: VisitUpdate) -> int:
    before = await _visible_row(session, principal, visit_id)
    require_manager(principal, N_("edit visits"))
    if data.status is not None and data.status != before["status"]:
        raise ValidationFailed({"status": i18n.gettext("a recorded visit changes status with its own actions (confirm, complete…)")})
    values = await _clean(session, principal, data, visit_id)
    if data.shared:  # sharing is one way here; it is also the page's own action (cooperation/share.py)
        values["shared"] = True
    people = values.pop("_people")
    version = await update_versioned(session, Visit, visit_id, data.version, values, what="visit")
    pieces_before = await _piece_audiences(session, visit_id)
    for model in (VisitParticipant, AgendaItem, VisitOutcome):
        await session.execute(delete(model).where(table(model).c.visit_id == visit_id))
    session.add_all(_children(visit_id, data, people))
    await gift_services.sync_visit_gifts(session, visit_id, values, data.gifts)  # register entries keep their details
    await _link_commitments(session, principal, visit_id, data)
    changes = {k: v for k, v in changes_between(dict(before), values).items() if k != "search_text"}
    pieces_after = {
        "outcomes": [f"{o.text.strip()} [{o.audience}]" for o in outcomes_of(data)],
        "agenda_notes": [f"{a.title.strip()} [{a.notes_audience}]" for a in data.agenda if a.notes],
    }
    # Who reads what was agreed and the agenda's notes is part of the history, like every other piece's audience.
    changes |= {k: [pieces_before[k], v] for k, v in pieces_after.items() if pieces_before[k] != v}
    audit.record(session, principal, "update", "visit", visit_id, summary=f"Visit “{values['title']}” edited", changes=changes)
    await session.commit()
    return version


async def _piece_audiences(session: AsyncSession, visit_id: uuid.UUID) -> dict[str, list[str]]:
    oc, ag = table(VisitOutcome).c, table(AgendaItem).c
    outcomes = await session.execute(select(oc.text, oc.audience).where(oc.visit_id == visit_id).order_by(oc.position))
    notes = await session.execute(
        select(ag.title, ag.notes_audience).where(ag.visit_id == visit_id, ag.notes.is_not(None)).order_by(ag.position)
    )
    return {"outcomes": [f"{t} [{a}]" for t, a in outcomes], "agenda_notes": [f"{t} [{a}]" for t, a in notes]}


async def _link_commitments(session: AsyncSession, principal: Principal, visit_id: uuid.UUID, data: VisitIn) -> None:
    """The agreement's commitments this visit serves show it as fulfilling them."""
    label = f"Visit “{nfc(data.title.strip())}” ({data.starts_on.isoformat()} – {data.ends_on.isoformat()})"
    for commitment_id in data.commitment_ids:
        await link_commitment(session, principal, commitment_id, record_type="visit", record_id=visit_id, label=label)


async def ensure_visible(session: AsyncSession, principal: Principal, visit_id: uuid.UUID) -> None:
    """404 unless the person may see it: before a form is read, so a bad form cannot tell that a hidden record exists."""
    await _visible_row(session, principal, visit_id)


async def _visible_row(session: AsyncSession, principal: Principal, visit_id: uuid.UUID) -> Any:
    row = (await session.execute(select(table(Visit)).where(V.id == visit_id, visit_visibility(principal)))).mappings().first()
    if row is None:
        raise NotFoundError("visit")
    return row


async def transition(
    session: AsyncSession, principal: Principal, visit_id: uuid.UUID, data: VisitTransitionIn, *, on: date | None = None
) -> int:
    row = await _visible_row(session, principal, visit_id)
    require_manager(principal, N_("change a visit's status"))
    if row["version"] != data.version:
        raise StaleVersionError("visit")
    current = VisitStatus(row["status"])
    target = VisitStatus(data.to)
    today = on or date.today()
    if target not in TRANSITIONS[current]:
        allowed = ", ".join(i18n.gettext(LABELS[t]) for t in TRANSITIONS[current]) or i18n.gettext("none (this is a final state)")
        raise TransitionRefused(
            i18n.gettext(
                "A visit that is %(current)s cannot become %(target)s; allowed next: %(allowed)s.",
                current=i18n.gettext(LABELS[current]),
                target=i18n.gettext(LABELS[target]),
                allowed=allowed,
            )
        )
    refusal = _date_refusal(target, row["starts_on"], row["ends_on"], today)
    if refusal:
        raise TransitionRefused(refusal)
    if target is S.CANCELLED and not (data.note and data.note.strip()):
        raise TransitionRefused(i18n.gettext("Say why the visit is cancelled (a note is required)."))
    values = {"status": target.value, "status_note": (data.note or "").strip() or None}
    version = await update_versioned(session, Visit, visit_id, data.version, values, what="visit")
    audit.record(
        session,
        principal,
        "transition",
        "visit",
        visit_id,
        summary=f"{LABELS[current]} → {LABELS[target]}",
        changes=changes_between(dict(row), values),
    )
    await session.commit()
    return version


async def get_visit(session: AsyncSession, principal: Principal, visit_id: uuid.UUID) -> VisitOut:
    row = await _visible_row(session, principal, visit_id)
    institutions = {
        r.id: r
        for r in await session.execute(
            select(I.id, I.code, I.name, I.name_native).where(I.id.in_([row["host_institution_id"], row["visiting_institution_id"]]))
        )
    }
    participants = [
        row_to(ParticipantOut, r)
        for r in await session.execute(
            select(VP.person_id, P.name, P.name_native, I.code, VP.side, VP.role, VP.position_at_time, VP.department_at_time)
            .select_from(
                table(VisitParticipant).join(table(Person), P.id == VP.person_id).join(table(Institution), I.id == P.institution_id)
            )
            .where(VP.visit_id == visit_id)
            .order_by(VP.side, VP.position)
        )
    ]
    names = {str(p.person_id): p.name for p in participants}
    ag = table(AgendaItem).c
    agenda_rows = (
        await session.execute(
            select(
                ag.day,
                ag.starts_at,
                ag.ends_at,
                ag.place,
                ag.title,
                ag.presenters,
                case((piece_visible(principal, ag.notes_audience, None), ag.notes), else_=null()).label("notes"),
                ag.notes_audience,
            )
            .where(ag.visit_id == visit_id)
            .order_by(ag.day, ag.starts_at, ag.position)
        )
    ).all()
    # A presenter taken off the delegation list later still presented: name them from the people register.
    missing = {x for r in agenda_rows for x in r.presenters if x not in names}
    if missing:
        names |= {str(i): n for i, n in await session.execute(select(P.id, P.name).where(P.id.in_([uuid.UUID(x) for x in missing])))}
    agenda = [
        AgendaItemOut(
            r.day,
            r.starts_at,
            r.ends_at,
            r.place,
            r.title,
            [names.get(x, x) for x in r.presenters],
            r.notes,
            [uuid.UUID(x) for x in r.presenters],
            r.notes_audience,
        )
        for r in agenda_rows
    ]
    oc = table(VisitOutcome).c
    outcomes = [
        OutcomeOut(r.text, r.audience)
        for r in await session.execute(
            select(oc.text, oc.audience)
            .where(oc.visit_id == visit_id, piece_visible(principal, oc.audience, None))  # staff write them
            .order_by(oc.position)
        )
    ]
    gc = table(Gift).c
    gifts = [
        GiftOut(d, t, i)
        for i, d, t in await session.execute(
            select(gc.id, gc.direction, gc.description).where(gc.visit_id == visit_id, gc.archived_at.is_(None)).order_by(gc.position)
        )
    ]
    agreement = None
    warnings: list[str] = []
    if row["agreement_id"]:
        a = (
            await session.execute(
                select(A.id, A.reference, A.title, A.status, A.effective_on, A.expires_on).where(
                    A.id == row["agreement_id"], may_see(principal, "agreement", A.id)
                )
            )
        ).first()
        if a is not None:
            in_force = (
                a.status in AGREEMENT_IN_FORCE
                and a.effective_on is not None
                and a.effective_on <= row["starts_on"]
                and (a.expires_on is None or a.expires_on >= row["ends_on"])
            )
            agreement = AgreementLink(a.id, a.reference, a.title, a.status, in_force)
            if not in_force:
                warnings.append(i18n.gettext("Agreement %(reference)s was not in force on the visit's dates.", reference=a.reference))
    host, visiting = institutions[row["host_institution_id"]], institutions[row["visiting_institution_id"]]
    status = VisitStatus(row["status"])
    served = [uuid.UUID(c) for c in row["commitment_ids"] or []]
    shown = await seen(session, principal, "commitment", served)
    return VisitOut(
        id=row["id"],
        title=row["title"],
        direction=row["direction"],
        host_institution_id=host.id,
        host_code=host.code,
        host_name=host.name,
        host_name_native=host.name_native,
        visiting_institution_id=visiting.id,
        visiting_code=visiting.code,
        visiting_name=visiting.name,
        visiting_name_native=visiting.name_native,
        starts_on=row["starts_on"],
        ends_on=row["ends_on"],
        days=(row["ends_on"] - row["starts_on"]).days + 1,
        city=row["city"],
        venue=row["venue"],
        purpose=row["purpose"],
        theme=row["theme"],
        topics=list(row["topics"] or []),
        translations=dict(row["translations"] or {}),
        status=status.value,
        status_note=row["status_note"],
        agreement=agreement,
        commitment_ids=[c for c in served if c in shown],
        budget_amount=row["budget_amount"],
        budget_currency=row["budget_currency"],
        participants=participants,
        agenda=agenda,
        outcomes=outcomes,
        gifts=gifts,
        report=row["report"],
        public=bool(row["public"]),
        warnings=warnings,
        allowed_transitions=[t.value for t in next_statuses(status, row["starts_on"], row["ends_on"], date.today())]
        if principal.manages_records
        else [],
        may_change_delegation=may_change_part_of(principal, visiting.id) and status not in (S.COMPLETED, S.CANCELLED),
        archived=row["archived_at"] is not None,
        version=row["version"],
        created_at=row["created_at"],
        updated_at=row["updated_at"],
    )


_SORTS = {"starts_on": V.starts_on, "title": ByName(V.title, V.translations), "status": V.status}


async def list_visits(
    session: AsyncSession,
    principal: Principal,
    *,
    page: int = 1,
    per_page: int = 25,
    sort: str | None = None,
    q: str | None = None,
    status: str | None = None,
    direction: str | None = None,
    institution_id: uuid.UUID | None = None,
    year: int | None = None,
    archived: bool = False,
) -> VisitPage:
    host = table(Institution).alias("host")
    visiting = table(Institution).alias("visiting")
    statement = (
        select(V.id, V.title, V.direction, host.c.code, visiting.c.code, V.starts_on, V.ends_on, V.city, V.status, V.translations)
        .select_from(table(Visit).join(host, host.c.id == V.host_institution_id).join(visiting, visiting.c.id == V.visiting_institution_id))
        .where(visit_visibility(principal))
        .where(V.archived_at.is_not(None) if archived else V.archived_at.is_(None))
    )
    for term in search_terms(q):
        statement = statement.where(V.search_text.contains(term, autoescape=True))
    if status:
        statement = statement.where(V.status == status)
    if direction:
        statement = statement.where(V.direction == direction)
    if institution_id:
        statement = statement.where(or_(V.host_institution_id == institution_id, V.visiting_institution_id == institution_id))
    if year:
        statement = statement.where(and_(V.starts_on >= date(year, 1, 1), V.starts_on <= date(year, 12, 31)))
    paged = await fetch_page(session, statement, page=page, per_page=per_page, order=order_by(sort, _SORTS, "-starts_on"), tiebreak=V.id)
    return VisitPage(
        items=[row_to(VisitRow, r) for r in paged.rows], total=paged.total, total_exact=paged.total_exact, page=page, per_page=per_page
    )


def institutions_sharing_with(institution_id: uuid.UUID) -> Any:
    """Institutions on the other side of a visit with `institution_id` (so its partner librarians see them)."""
    return (
        select(V.host_institution_id)
        .where(V.visiting_institution_id == institution_id, V.shared.is_(True))
        .union(select(V.visiting_institution_id).where(V.host_institution_id == institution_id, V.shared.is_(True)))
    )


def visible_ids(principal: Principal) -> Any:
    """The visits this person may see, as a subquery (follow-up actions on them are listed only then)."""
    return select(V.id).where(visit_visibility(principal))


async def attachment_owner(session: AsyncSession, principal: Principal, visit_id: uuid.UUID) -> Owner:
    """Documents, comments and follow-ups of a visit: staff and the two institutions' partners may add them."""
    row = await _visible_row(session, principal, visit_id)
    takes_part = principal.institution_id in (row["host_institution_id"], row["visiting_institution_id"])
    return Owner(
        label=i18n.gettext("the visit “%(title)s”", title=row["title"]),
        url=f"/visits/{visit_id}",
        may_add=principal.manages_records or (principal.is_partner and takes_part),
        partner_ids=tuple(i for i in (row["host_institution_id"], row["visiting_institution_id"]) if i is not None),
    )


async def calendar_events(session: AsyncSession, principal: Principal, start: date, end: date) -> list[Any]:
    """Visits in the window that the person may see, with their participants (two queries)."""
    from cooperation.calendar import CalendarEvent

    host = table(Institution).alias("host")
    visiting = table(Institution).alias("visiting")
    rows = (
        await session.execute(
            select(
                V.id,
                V.title,
                V.starts_on,
                V.ends_on,
                V.city,
                V.venue,
                V.theme,
                V.status,
                host.c.code,
                visiting.c.code,
                V.version,
                V.updated_at,
            )
            .select_from(
                table(Visit).join(host, host.c.id == V.host_institution_id).join(visiting, visiting.c.id == V.visiting_institution_id)
            )
            .where(
                visit_visibility(principal), V.archived_at.is_(None), V.status != S.CANCELLED.value, V.ends_on >= start, V.starts_on <= end
            )
        )
    ).all()
    people: dict[uuid.UUID, list[str]] = {}
    if rows:
        for visit_id, name, native, role, code in await session.execute(
            select(VP.visit_id, P.name, P.name_native, VP.role, I.code)
            .select_from(
                table(VisitParticipant).join(table(Person), P.id == VP.person_id).join(table(Institution), I.id == P.institution_id)
            )
            .where(VP.visit_id.in_([r[0] for r in rows]))
            .order_by(VP.visit_id, VP.side, VP.position)
        ):
            people.setdefault(visit_id, []).append(f"{native or name} ({i18n.label(role).lower()}, {code})")
    return [
        CalendarEvent(
            uid=f"visit-{r[0]}",
            summary=i18n.gettext("Visit: %(title)s (%(visitors)s → %(hosts)s)", title=r[1], visitors=r[9], hosts=r[8]),
            start=r[2],
            end=r[3],
            description=(r[6] or "") + "\n" + i18n.gettext("Status: %(status)s", status=i18n.label(r[7])),
            location=", ".join(x for x in (r[5], r[4]) if x) or None,
            url=f"/visits/{r[0]}",
            attendees=people.get(r[0], []),
            sequence=r[10] - 1,
            modified=r[11],
        )
        for r in rows
    ]


def check_delegation_open(principal: Principal, visiting_institution_id: uuid.UUID, status: str) -> None:
    """The delegation list is the visiting side's (or the department's), and closes once the visit is over."""
    if not may_change_part_of(principal, visiting_institution_id):
        raise ForbiddenError(i18n.gettext("Only the visiting institution (or the cooperation department) may change the delegation."))
    if status in (S.COMPLETED.value, S.CANCELLED.value):
        raise ConflictError(
            i18n.gettext("The visit is %(status)s; its delegation can no longer change.", status=i18n.gettext(LABELS[VisitStatus(status)]))
        )


async def replace_delegation(session: AsyncSession, principal: Principal, visit_id: uuid.UUID, members: list[Any], version: int) -> int:
    """The visiting institution's partners (or coordinators) set who travels: the delegation side only."""
    row = await _visible_row(session, principal, visit_id)
    check_delegation_open(principal, row["visiting_institution_id"], row["status"])
    people = {
        r.id: r
        for r in await session.execute(
            select(P.id, P.institution_id, P.position, P.department).where(P.id.in_([m.person_id for m in members]))
        )
    }
    errors: dict[str, str] = {}
    for index, member in enumerate(members):
        person = people.get(member.person_id)
        if person is None:
            errors[f"members.{index}.person_id"] = i18n.gettext("no such person")
        elif principal.is_partner and person.institution_id != principal.institution_id:
            errors[f"members.{index}.person_id"] = i18n.gettext("a partner lists people of its own institution only")
        if member.role.value in ("chair",):
            errors[f"members.{index}.role"] = i18n.gettext("the chair belongs to the host side")
    if len({m.person_id for m in members}) != len(members):
        errors["members"] = i18n.gettext("a person is listed twice")
    if errors:
        raise ValidationFailed(errors)
    before = [
        str(p)
        for p in await session.scalars(select(VP.person_id).where(VP.visit_id == visit_id, VP.side == "delegation").order_by(VP.position))
    ]
    new_version = await update_versioned(session, Visit, visit_id, version, {}, what="visit")
    await session.execute(delete(VisitParticipant).where(VP.visit_id == visit_id, VP.side == "delegation"))
    for position, member in enumerate(members):
        person = people[member.person_id]
        session.add(
            VisitParticipant(
                visit_id=visit_id,
                person_id=member.person_id,
                side="delegation",
                role=member.role.value,
                position=position,
                position_at_time=member.position_at_time or person.position,
                department_at_time=member.department_at_time or person.department,
            )
        )
    audit.record(
        session,
        principal,
        "update_delegation",
        "visit",
        visit_id,
        summary="Delegation list changed",
        changes={"delegation": [before, [str(m.person_id) for m in members]]},
    )
    await session.commit()
    return new_version


async def set_archived(session: AsyncSession, principal: Principal, visit_id: uuid.UUID, *, archived: bool, version: int) -> int:
    row = await _visible_row(session, principal, visit_id)
    require_manager(principal, N_("archive visits"))
    return await audit.archive_or_restore(
        session,
        principal,
        Visit,
        "visit",
        visit_id,
        archived=archived,
        currently_archived=row["archived_at"] is not None,
        version=version,
        label=row["title"],
    )


# ---- commitments with a yearly target, measured by the visits and exchanges that fulfil them -------------------


async def commitment_measures(
    session: AsyncSession, principal: Principal, commitment_ids: list[uuid.UUID], on: date
) -> dict[uuid.UUID, Measured]:
    """A commitment with a yearly target ("two expert delegations a year") that visits or expert exchanges are linked
    to counts those completed, by the year they ended, over the agreement's term; it is on track while at least the
    target pro rata since the agreement took effect is done. Without a linked record it keeps what was typed."""
    C, CL, X = table(Commitment).c, table(CommitmentLink).c, table(ExpertExchange).c
    targets = (
        await session.execute(
            select(C.id, C.yearly_target, C.unit, A.effective_on, A.signed_on, A.expires_on)
            .join_from(table(Commitment), table(Agreement), A.id == C.agreement_id)
            .where(C.id.in_(commitment_ids), C.yearly_target > 0)
        )
    ).all()
    if not targets:
        return {}
    links = (
        await session.execute(
            select(CL.commitment_id, CL.record_type, CL.record_id).where(
                CL.commitment_id.in_([t.id for t in targets]),
                CL.record_type.in_(("visit", "exchange")),
                may_see_any(principal, CL.record_type, CL.record_id),  # a partner counts what it may see
            )
        )
    ).all()
    if not links:
        return {}
    visit_ids = [r.record_id for r in links if r.record_type == "visit"]
    exchange_ids = [r.record_id for r in links if r.record_type == "exchange"]
    ended: dict[tuple[str, uuid.UUID], date] = {}
    if visit_ids:
        for record_id, ends_on in await session.execute(
            select(V.id, V.ends_on).where(V.id.in_(visit_ids), V.status == S.COMPLETED.value, V.archived_at.is_(None))
        ):
            ended[("visit", record_id)] = ends_on
    if exchange_ids:
        for record_id, ends_on in await session.execute(
            select(X.id, X.ends_on).where(X.id.in_(exchange_ids), X.status == "completed", X.archived_at.is_(None))
        ):
            ended[("exchange", record_id)] = ends_on
    linked: dict[uuid.UUID, list[date]] = {}
    for r in links:
        linked.setdefault(r.commitment_id, [])
        if (when := ended.get((r.record_type, r.record_id))) is not None:
            linked[r.commitment_id].append(when)
    today = on
    measured: dict[uuid.UUID, Measured] = {}
    for t in targets:
        if t.id not in linked:
            continue
        start = t.effective_on or t.signed_on or min(linked[t.id], default=today)
        until = min(today, t.expires_on) if t.expires_on else today
        done = [d for d in linked[t.id] if start <= d <= until]  # nothing after the day measured, nor after the term
        by_year = {year: sum(1 for d in done if d.year == year) for year in range(start.year, until.year + 1)}
        # Over the whole term when it has an end; an open-ended agreement is measured year by year so far.
        end = t.expires_on or date(until.year, 12, 31)
        total = round(t.yearly_target * max((end - start).days, 1) / 365.25)
        per_year = ", ".join(
            i18n.gettext("%(year)s: %(done)s of %(target)s", year=year, done=n, target=t.yearly_target) for year, n in by_year.items()
        )
        label = i18n.gettext(
            "%(done)s of %(total)s %(unit)s completed over the term (%(per_year)s)",
            done=len(done),
            total=total,
            unit=t.unit or i18n.gettext("linked records"),
            per_year=per_year,
        )
        share = round(100 * len(done) / total) if total else 0
        measured[t.id] = Measured(min(100, share), label, None, pace(len(done), total, start, end, today))
    return measured


def partner_activity() -> list[Any]:
    """Visits (either side) and expert stays (either institution) by the day they began: what keeps a partnership
    alive (cooperation/partners/dormancy.py)."""
    X = table(ExpertExchange).c
    live = (V.status != S.CANCELLED.value, V.archived_at.is_(None))
    stays = (X.status != "cancelled", X.archived_at.is_(None))
    return [
        activity(V.host_institution_id, "visit", V.starts_on).where(*live),
        activity(V.visiting_institution_id, "visit", V.starts_on).where(*live),
        activity(X.home_institution_id, "expert_exchange", X.starts_on).where(*stays),
        activity(X.host_institution_id, "expert_exchange", X.starts_on).where(*stays),
    ]


async def set_summary_publication(session: AsyncSession, principal: Principal, visit_ids: list[uuid.UUID], publish: bool) -> int:
    """A coordinator publishes the summaries of completed visits proposed for the portal, or keeps them internal (a
    published one kept internal leaves the portal at the next request). All or none; audited per visit."""
    require_manager(principal, N_("publish on the portal"))
    rows = (await session.execute(select(V.id, V.title, V.public, V.status).where(V.id.in_(visit_ids), V.archived_at.is_(None)))).all()
    if len(rows) != len(set(visit_ids)):
        raise NotFoundError("visit")
    if publish and (unready := [r.title for r in rows if not r.public or r.status != "completed"]):
        raise ValidationFailed(
            {"summary": i18n.gettext("only a completed visit marked public is published: %(titles)s", titles=", ".join(unready[:5]))}
        )
    return await record_decision(session, principal, V.summary_publication, rows, publish, entity_type="visit", what="Summary")
