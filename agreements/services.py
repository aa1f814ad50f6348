"""Every rule and every write for agreements: validation, lifecycle, renewal, commitments, views."""

import math
import uuid
from collections.abc import Awaitable, Callable
from dataclasses import dataclass
from datetime import date, timedelta
from typing import Any

from sqlalchemy import ColumnElement, and_, delete, exists, func, or_, select, update
from sqlalchemy.ext.asyncio import AsyncSession
from sqlmodel import col

from agreements.models import Agreement, AgreementParty, Commitment, CommitmentLink
from agreements.schemas import (
    AgreementIn,
    AgreementKind,
    AgreementOut,
    AgreementPage,
    AgreementRef,
    AgreementRow,
    AgreementStatus,
    AgreementUpdate,
    AgreementView,
    CommitmentChoice,
    CommitmentIn,
    CommitmentLinkOut,
    CommitmentOut,
    CommitmentProgressIn,
    CommitmentStatus,
    CommitmentUpdate,
    Confidentiality,
    FieldChange,
    PartyIn,
    PartyOut,
    PartyUpdate,
    RenewalDiff,
    TransitionIn,
)
from cooperation import audit, i18n, versions
from cooperation.auth.access import Principal, may_change_part_of, may_see_any, require_manager, visible
from cooperation.db import table, utcnow
from cooperation.errors import (
    ConflictError,
    ForbiddenError,
    NotFoundError,
    StaleVersionError,
    TransitionRefused,
    ValidationFailed,
)
from cooperation.files import Owner
from cooperation.i18n import N_
from cooperation.partners.models import Institution
from cooperation.partners.services import institution_visibility
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

A = table(Agreement).c
AP = table(AgreementParty).c
C = table(Commitment).c
CL = table(CommitmentLink).c
I = table(Institution).c  # noqa: E741

S = AgreementStatus

# The lifecycle: which status may follow which. Preconditions are checked in `_refusal`.
TRANSITIONS: dict[AgreementStatus, tuple[AgreementStatus, ...]] = {
    S.DRAFT: (S.NEGOTIATING,),
    S.NEGOTIATING: (S.DRAFT, S.SIGNED),
    S.SIGNED: (S.IN_FORCE, S.TERMINATED),
    S.IN_FORCE: (S.EXPIRED, S.TERMINATED, S.SUPERSEDED),
    S.EXPIRED: (S.SUPERSEDED,),
    S.TERMINATED: (),
    S.SUPERSEDED: (),
}
# The statuses as a sentence says them ("an agreement that is in force"); pages' badges use the registered labels.
STATUS_LABELS = {
    S.DRAFT: N_("draft"),
    S.NEGOTIATING: N_("negotiating"),
    S.SIGNED: N_("signed"),
    S.IN_FORCE: N_("in force"),
    S.EXPIRED: N_("expired"),
    S.TERMINATED: N_("terminated"),
    S.SUPERSEDED: N_("superseded"),
}
# Once signed, the terms are fixed: changing them means an addendum or a renewal.
EDITABLE_STATUSES = {S.DRAFT, S.NEGOTIATING}
RENEWABLE_STATUSES = {S.SIGNED, S.IN_FORCE, S.EXPIRED}
LIVE_SUCCESSOR_STATUSES = (S.SIGNED.value, S.IN_FORCE.value)


def today() -> date:
    return utcnow().date()


def participants_of_agreement() -> Any:
    return select(AP.institution_id).where(AP.agreement_id == A.id)


def agreement_visibility(principal: Principal) -> ColumnElement[bool]:
    return visible(principal, participants=participants_of_agreement(), internal=A.confidentiality == Confidentiality.INTERNAL.value)


def institutions_sharing_with(institution_id: uuid.UUID) -> Any:
    """Institutions that are party, with `institution_id`, to an agreement that is not internal."""
    mine = select(AP.agreement_id).where(AP.institution_id == institution_id)
    other = table(AgreementParty).alias("other_party")
    agreement = table(Agreement).alias("shared_agreement")
    return (
        select(other.c.institution_id)
        .join(agreement, agreement.c.id == other.c.agreement_id)
        .where(other.c.agreement_id.in_(mine), agreement.c.confidentiality != Confidentiality.INTERNAL.value)
    )


# ---- reading ------------------------------------------------------------------------------------

_SORTS = {
    "reference": A.reference,
    "title": ByName(A.title, A.translations),
    "kind": A.kind,
    "status": A.status,
    "signed_on": A.signed_on,
    "effective_on": A.effective_on,
    "expires_on": A.expires_on,
    "updated_at": A.updated_at,
}
_ROW_COLUMNS = (A.id, A.reference, A.title, A.kind, A.status, A.signed_on, A.effective_on, A.expires_on, A.confidentiality, A.translations)


def _not_renewed() -> ColumnElement[bool]:
    successor = table(Agreement).alias("successor")
    return ~exists(
        select(successor.c.id).where(
            successor.c.predecessor_id == A.id,
            successor.c.status.in_(LIVE_SUCCESSOR_STATUSES),
            successor.c.archived_at.is_(None),
        )
    )


def view_clause(view: AgreementView, *, on: date, days: int) -> ColumnElement[bool] | None:
    if view is AgreementView.IN_FORCE:
        return A.status == S.IN_FORCE.value
    if view is AgreementView.EXPIRING:
        return and_(A.status == S.IN_FORCE.value, A.expires_on.is_not(None), A.expires_on >= on, A.expires_on <= on + timedelta(days=days))
    if view is AgreementView.EXPIRED_NOT_RENEWED:
        lapsed = or_(A.status == S.EXPIRED.value, and_(A.status == S.IN_FORCE.value, A.expires_on < on))
        return and_(lapsed, _not_renewed())
    return None


def in_force_on(day: date) -> ColumnElement[bool]:
    """Agreements in force on `day` (a past one included): entered into force (now in force, expired or superseded)
    and running that day."""
    return and_(
        A.status.in_((S.IN_FORCE.value, S.EXPIRED.value, S.SUPERSEDED.value)),
        A.effective_on <= day,
        or_(A.expires_on.is_(None), A.expires_on >= day),
    )


def status_on(status: str, effective_on: date | None, expires_on: date | None, day: date) -> str:
    """The status an agreement had on `day`, from its dates: a report for a past period shows statuses as they were."""
    if status not in (S.IN_FORCE.value, S.EXPIRED.value, S.SUPERSEDED.value):
        return status
    if effective_on is not None and effective_on > day:
        return S.SIGNED.value
    if expires_on is not None and expires_on < day:
        return S.SUPERSEDED.value if status == S.SUPERSEDED.value else S.EXPIRED.value
    return S.IN_FORCE.value


async def list_agreements(
    session: AsyncSession,
    principal: Principal,
    *,
    page: int = 1,
    per_page: int = 25,
    sort: str | None = None,
    q: str | None = None,
    view: AgreementView = AgreementView.ALL,
    days: int = 90,
    status: str | None = None,
    kind: str | None = None,
    partner_id: uuid.UUID | None = None,
    country: str | None = None,
    archived: bool = False,
    on: date | None = None,
) -> AgreementPage:
    """One page of agreements as plain rows: three queries (count, rows, parties) whatever the page size."""
    if days < 0 or days > 3650:
        raise ValidationFailed({"days": i18n.gettext("must be between 0 and 3650")})
    statement = select(*_ROW_COLUMNS, PARTY_CODES).where(agreement_visibility(principal))
    statement = statement.where(A.archived_at.is_not(None) if archived else A.archived_at.is_(None))
    clause = view_clause(view, on=on or today(), days=days)
    if clause is not None:
        statement = statement.where(clause)
    for term in search_terms(q):
        statement = statement.where(A.search_text.contains(term, autoescape=True))
    if status:
        if status not in S.__members__.values():
            raise ValidationFailed({"status": i18n.gettext("unknown status %(value)s", value=repr(status))})
        statement = statement.where(A.status == status)
    if kind:
        statement = statement.where(A.kind == kind)
    if partner_id:
        statement = statement.where(exists(select(AP.id).where(AP.agreement_id == A.id, AP.institution_id == partner_id)))
    if country:
        statement = statement.where(
            exists(
                select(AP.id)
                .join(table(Institution), I.id == AP.institution_id)
                .where(AP.agreement_id == A.id, I.country == country.upper(), I.is_home.is_(False))
            )
        )
    paged = await fetch_page(session, statement, page=page, per_page=per_page, order=order_by(sort, _SORTS, "-signed_on"), tiebreak=A.id)
    items = [row_to(AgreementRow, (*row[:-1], row[-1].split(",") if row[-1] else [])) for row in paged.rows]
    return AgreementPage(items=items, total=paged.total, total_exact=paged.total_exact, page=page, per_page=per_page)


def _party_codes_column() -> Any:
    """The parties' codes of each row as one "NLV,NLC" string, computed in the same query (no extra round trip).

    Codes come from an ordered subquery; PostgreSQL and SQLite aggregate them in that order.
    """
    ordered = (
        select(I.code.label("code"))
        .select_from(table(AgreementParty).join(table(Institution), I.id == AP.institution_id))
        .where(AP.agreement_id == A.id)
        .order_by(AP.position)
        .correlate(table(Agreement))
        .subquery()
    )
    return select(func.aggregate_strings(ordered.c.code, ",")).scalar_subquery().label("party_codes")


# Built once: a constant expression, correlated to each agreement row of whatever query uses it.
PARTY_CODES = _party_codes_column()


async def _visible_row(session: AsyncSession, principal: Principal, agreement_id: uuid.UUID) -> Any:
    row = (await session.execute(select(table(Agreement)).where(A.id == agreement_id, agreement_visibility(principal)))).mappings().first()
    if row is None:
        raise NotFoundError("agreement")
    return row


def notice_date(expires_on: date | None, notice_period_days: int | None) -> date | None:
    if expires_on is None or notice_period_days is None:
        return None
    return expires_on - timedelta(days=notice_period_days)


async def get_agreement(session: AsyncSession, principal: Principal, agreement_id: uuid.UUID) -> AgreementOut:
    row = await _visible_row(session, principal, agreement_id)
    parties = await _parties(session, agreement_id)
    commitments = await commitments_of(session, principal, [agreement_id])
    predecessor = None
    if row["predecessor_id"]:
        pred = (
            await session.execute(
                select(A.id, A.reference, A.title, A.status).where(A.id == row["predecessor_id"], agreement_visibility(principal))
            )
        ).first()
        predecessor = row_to(AgreementRef, pred) if pred else None
    successors = [
        row_to(AgreementRef, r)
        for r in await session.execute(
            select(A.id, A.reference, A.title, A.status)
            .where(A.predecessor_id == agreement_id, A.archived_at.is_(None), agreement_visibility(principal))
            .order_by(A.created_at)
        )
    ]
    status = AgreementStatus(row["status"])
    return AgreementOut(
        id=row["id"],
        reference=row["reference"],
        title=row["title"],
        title_native=row["title_native"],
        kind=AgreementKind(row["kind"]),
        summary=row["summary"],
        scope_tags=list(row["scope_tags"] or []),
        translations=dict(row["translations"] or {}),
        prevailing_language=row["prevailing_language"],
        status=status.value,
        status_note=row["status_note"],
        signed_on=row["signed_on"],
        effective_on=row["effective_on"],
        expires_on=row["expires_on"],
        notice_by=notice_date(row["expires_on"], row["notice_period_days"]),
        auto_renew=row["auto_renew"],
        renewal_term_months=row["renewal_term_months"],
        notice_period_days=row["notice_period_days"],
        confidentiality=row["confidentiality"],
        archived=row["archived_at"] is not None,
        version=row["version"],
        created_at=row["created_at"],
        updated_at=row["updated_at"],
        parties=parties,
        commitments=commitments.get(agreement_id, []),
        predecessor=predecessor,
        successors=successors,
        allowed_transitions=[t.value for t in TRANSITIONS[status]] if principal.manages_records and row["archived_at"] is None else [],
    )


async def _parties(session: AsyncSession, agreement_id: uuid.UUID) -> list[PartyOut]:
    rows = await session.execute(
        select(AP.institution_id, I.code, I.name, I.name_native, I.country, I.is_home, AP.signatory_name, AP.signatory_title, AP.signed_on)
        .join(table(Institution), I.id == AP.institution_id)
        .where(AP.agreement_id == agreement_id)
        .order_by(AP.position)
    )
    return [row_to(PartyOut, row) for row in rows]


@dataclass(frozen=True)
class Measured:
    """A commitment's progress computed from other records (a programme's quota use, a project's target, the visits
    and exchanges linked to a yearly target)."""

    progress: int  # percent, 0–100
    label: str
    url: str | None
    state: str = "on_track"  # met, on_track or behind (see `pace`)


# Later domains (programmes) say which commitments they measure, each counting only what the reader may see (a
# programme or project a partner does not take part in measures nothing for them); app.py wires them here.
# (session, reader, commitment ids, the day measured: today, or a report's last day — nothing after it counts)
MeasureSource = Callable[[AsyncSession, Principal, list[uuid.UUID], date], Awaitable[dict[uuid.UUID, Measured]]]


# A measured commitment's status follows its measure (a cancelled one stays cancelled).
STATUS_OF_STATE = {
    "met": CommitmentStatus.DONE.value,
    "on_track": CommitmentStatus.IN_PROGRESS.value,
    "behind": CommitmentStatus.AT_RISK.value,
}
STATE_LABELS = {"met": N_("met"), "on_track": N_("on track"), "behind": N_("behind")}


def pace(done: float, total: float, start: date | None, end: date | None, on: date) -> str:
    """met, on_track or behind: on track when at least what the time elapsed asks for is done, pro rata from start to
    end (whole units: 2 a year is on track with 1 done by mid-year)."""
    if total and done >= total:
        return "met"
    if start is None or end is None or end <= start:
        return "on_track"
    elapsed = min(max((on - start).days, 0), (end - start).days) / (end - start).days
    return "on_track" if done >= math.floor(total * elapsed + 1e-9) else "behind"


_measure_sources: list[MeasureSource] = []


def register_measure_source(source: MeasureSource) -> None:
    if source not in _measure_sources:
        _measure_sources.append(source)


async def measured(
    session: AsyncSession, principal: Principal, commitment_ids: list[uuid.UUID], on: date | None = None
) -> dict[uuid.UUID, Measured]:
    """Each commitment's progress as it stood on `on` (today by default): what happened later, and the years after
    it, are left out."""
    found: dict[uuid.UUID, Measured] = {}
    if commitment_ids:
        for source in _measure_sources:  # one source per commitment: the first registered that measures it
            for commitment_id, measure in (await source(session, principal, commitment_ids, on or date.today())).items():
                found.setdefault(commitment_id, measure)
    return found


async def commitments_of(
    session: AsyncSession, principal: Principal, agreement_ids: list[uuid.UUID], *, on: date | None = None
) -> dict[uuid.UUID, list[CommitmentOut]]:
    """The agreements' commitments with their progress; `on` a report's last day: progress as it stood then (nothing
    after it counts, and no year after it is listed). A commitment recorded later still counts: what an agreement
    committed to does not depend on when the department typed it in."""
    responsible = table(Institution).alias("responsible")
    rows = await session.execute(
        select(
            C.id,
            C.agreement_id,
            C.text,
            C.responsible_institution_id,
            responsible.c.code,
            C.due_on,
            C.yearly_target,
            C.unit,
            C.status,
            C.progress,
            C.notes,
            C.version,
        )
        .outerjoin(responsible, responsible.c.id == C.responsible_institution_id)
        .where(C.agreement_id.in_(agreement_ids), C.archived_at.is_(None))
        .order_by(C.agreement_id, C.position, C.created_at)
    )
    items = [row_to(CommitmentOut, row) for row in rows]
    links: dict[uuid.UUID, list[CommitmentLinkOut]] = {}
    if items:
        for commitment_id, record_type, record_id, label in await session.execute(
            select(CL.commitment_id, CL.record_type, CL.record_id, CL.label)
            .where(CL.commitment_id.in_([i.id for i in items]), may_see_any(principal, CL.record_type, CL.record_id))
            .order_by(CL.created_at)
        ):
            links.setdefault(commitment_id, []).append(CommitmentLinkOut(record_type, record_id, label))
    grouped: dict[uuid.UUID, list[CommitmentOut]] = {}
    computed = await measured(session, principal, [i.id for i in items], on)
    for item in items:
        item.links = links.get(item.id, [])
        item.may_update = may_change_part_of(principal, item.responsible_institution_id)
        if (measure := computed.get(item.id)) is not None:
            item.progress, item.measured_by, item.measured_url = measure.progress, measure.label, measure.url
            item.measured_state = measure.state
            if item.status != CommitmentStatus.CANCELLED.value:
                item.status = STATUS_OF_STATE[measure.state]
        grouped.setdefault(item.agreement_id, []).append(item)
    return grouped


async def commitment_choices(session: AsyncSession, principal: Principal, agreement_ids: list[uuid.UUID]) -> list[CommitmentChoice]:
    """The open commitments of these agreements, for a form that links a record to what it serves (one query)."""
    if not agreement_ids:
        return []
    rows = await session.execute(
        select(C.id, C.agreement_id, A.reference, C.text)
        .join_from(table(Commitment), table(Agreement), A.id == C.agreement_id)
        .where(C.agreement_id.in_(agreement_ids), C.archived_at.is_(None), agreement_visibility(principal))
        .order_by(A.reference, C.position, C.created_at)
    )
    return [row_to(CommitmentChoice, r) for r in rows]


# ---- validation ---------------------------------------------------------------------------------


async def _clean(
    session: AsyncSession, principal: Principal, data: AgreementIn, *, agreement_id: uuid.UUID | None = None
) -> dict[str, Any]:
    errors: dict[str, str] = {}
    reference = data.reference.strip()
    if not reference:
        errors["reference"] = i18n.gettext("is required")
    else:
        taken = select(A.id).where(A.reference == reference)
        if agreement_id:
            taken = taken.where(A.id != agreement_id)
        if await session.scalar(taken) is not None:
            errors["reference"] = i18n.gettext("%(reference)s is already used by another agreement", reference=reference)
    if not data.title.strip():
        errors["title"] = i18n.gettext("is required")
    institution_ids = [p.institution_id for p in data.parties]
    if len(institution_ids) < 2:
        errors["parties"] = i18n.gettext("an agreement needs at least two parties")
    elif len(set(institution_ids)) != len(institution_ids):
        errors["parties"] = i18n.gettext("the same institution is listed twice")
    else:
        known = set(
            await session.scalars(select(I.id).where(I.id.in_(institution_ids), I.archived_at.is_(None), institution_visibility(principal)))
        )
        unknown = [str(i) for i in institution_ids if i not in known]
        if unknown:
            errors["parties"] = i18n.gettext("unknown institution(s): %(ids)s", ids=", ".join(unknown))
    if data.effective_on and data.expires_on and data.expires_on <= data.effective_on:
        errors["expires_on"] = i18n.gettext("must be after the effective date")
    if data.signed_on and data.expires_on and data.expires_on <= data.signed_on:
        errors["expires_on"] = i18n.gettext("must be after the signing date")
    for index, party in enumerate(data.parties):
        if party.signed_on and data.expires_on and party.signed_on >= data.expires_on:
            errors[f"parties.{index}.signed_on"] = i18n.gettext("a party cannot sign on or after the expiry date")
    if data.auto_renew:
        if not data.renewal_term_months:
            errors["renewal_term_months"] = i18n.gettext("is required when the agreement renews automatically")
        if not data.expires_on:
            errors["expires_on"] = i18n.gettext("is required when the agreement renews automatically")
    translations, version_errors = versions.clean(data.translations)
    errors |= version_errors
    prevailing = (data.prevailing_language or "").strip() or None
    if prevailing is not None and not i18n.is_language_code(prevailing):
        errors["prevailing_language"] = i18n.gettext("must be a language code such as vi, zh or en")
    if errors:
        raise ValidationFailed(errors)
    tags = distinct_labels(data.scope_tags)
    title = nfc(data.title.strip())
    title_native = nfc(data.title_native.strip()) if data.title_native and data.title_native.strip() else None
    summary = nfc(data.summary.strip())
    values: dict[str, Any] = {
        "reference": reference,
        "title": title,
        "title_native": title_native,
        "kind": AgreementKind(data.kind).value,
        "summary": summary,
        "scope_tags": tags,
        "signed_on": data.signed_on,
        "effective_on": data.effective_on,
        "expires_on": data.expires_on,
        "auto_renew": data.auto_renew,
        "renewal_term_months": data.renewal_term_months,
        "notice_period_days": data.notice_period_days,
        "translations": translations,
        "prevailing_language": prevailing,
        "search_text": fold_for_search(reference, title, title_native, summary, " ".join(tags), versions.search_words(translations)),
    }
    if data.confidentiality is not None:
        values["confidentiality"] = Confidentiality(data.confidentiality).value
    elif agreement_id is None:
        values["confidentiality"] = Confidentiality.INTERNAL.value  # our staff only, until a coordinator shares it
    return values


def _party_rows(agreement_id: uuid.UUID, data: AgreementIn) -> list[AgreementParty]:
    return [
        AgreementParty(
            agreement_id=agreement_id,
            institution_id=party.institution_id,
            position=position,
            signatory_name=nfc(party.signatory_name.strip()) if party.signatory_name and party.signatory_name.strip() else None,
            signatory_title=nfc(party.signatory_title.strip()) if party.signatory_title and party.signatory_title.strip() else None,
            signed_on=party.signed_on or data.signed_on,  # a party signed when the agreement was, unless it says otherwise
        )
        for position, party in enumerate(data.parties)
    ]


def _party_snapshot(parties: list[AgreementParty] | list[PartyOut]) -> list[dict[str, Any]]:
    return [
        {
            "institution_id": str(p.institution_id),
            "signatory_name": p.signatory_name,
            "signatory_title": p.signatory_title,
            "signed_on": p.signed_on,
        }
        for p in parties
    ]


# ---- writing ------------------------------------------------------------------------------------


async def create_agreement(
    session: AsyncSession, principal: Principal, data: AgreementIn, *, predecessor_id: uuid.UUID | None = None
) -> uuid.UUID:
    require_manager(principal, N_("create agreements"))
    values = await _clean(session, principal, data)
    status = await _starting_status(session, data, values)
    if status is S.SIGNED or status is S.IN_FORCE:
        values["signed_on"] = values.get("signed_on") or max(p.signed_on for p in data.parties if p.signed_on)
    agreement = Agreement(**values, status=status.value, predecessor_id=predecessor_id)
    session.add(agreement)
    await session.flush()
    parties = _party_rows(agreement.id, data)
    session.add_all(parties)
    changes = {k: [None, v] for k, v in (values | {"status": status.value}).items() if k != "search_text"}
    changes["parties"] = [None, _party_snapshot(parties)]
    audit.record(
        session, principal, "create", "agreement", agreement.id, summary=f"Created agreement {values['reference']}", changes=changes
    )
    await session.flush()
    return agreement.id


async def _starting_status(session: AsyncSession, data: AgreementIn, values: dict[str, Any]) -> AgreementStatus:
    """A new agreement's status as chosen, reached through the same checks its transitions make one step at a time
    (draft → negotiating → signed → in force): signed needs two parties, each with a signing date (the agreement's
    by default); in force needs its effective date reached and its end not passed. Left out: draft."""
    if data.status is None or data.status == S.DRAFT.value:
        return S.DRAFT
    target = AgreementStatus(data.status)
    codes: dict[uuid.UUID, str] = dict(
        (await session.execute(select(I.id, I.code).where(I.id.in_([p.institution_id for p in data.parties])))).all()
    )
    parties = [
        PartyOut(p.institution_id, codes.get(p.institution_id, "?"), "", None, "", False, None, None, p.signed_on or data.signed_on)
        for p in data.parties
    ]
    row = {"status": S.DRAFT.value, "effective_on": values.get("effective_on"), "expires_on": values.get("expires_on"), "signed_on": None}
    path = [S.NEGOTIATING, S.SIGNED, S.IN_FORCE]
    for step in path[: path.index(target) + 1]:
        reason = _refusal(row, step, parties, None, today(), False)
        if reason:
            raise ValidationFailed({"status": reason})
        row["status"] = step.value
    return target


async def create_agreement_and_commit(session: AsyncSession, principal: Principal, data: AgreementIn) -> uuid.UUID:
    agreement_id = await create_agreement(session, principal, data)
    await session.commit()
    return agreement_id


async def update_agreement(session: AsyncSession, principal: Principal, agreement_id: uuid.UUID, data: AgreementUpdate) -> int:
    before = await _visible_row(session, principal, agreement_id)
    require_manager(principal, N_("change an agreement's terms"))
    status = AgreementStatus(before["status"])
    if before["archived_at"] is not None:
        raise ConflictError(i18n.gettext("This agreement is archived; restore it before editing."))
    if status not in EDITABLE_STATUSES:
        raise ConflictError(
            i18n.gettext(
                "The agreement is %(status)s: its terms are fixed. Record changes as an addendum or renew it.",
                status=i18n.gettext(STATUS_LABELS[status]),
            )
        )
    if data.status is not None and data.status != status.value:
        raise ValidationFailed(
            {"status": i18n.gettext("a recorded agreement changes status with its own actions (sign, bring into force…)")}
        )
    values = await _clean(session, principal, data, agreement_id=agreement_id)
    old_parties = await _parties(session, agreement_id)
    version = await update_versioned(session, Agreement, agreement_id, data.version, values, what="agreement")
    await session.execute(delete(AgreementParty).where(AP.agreement_id == agreement_id))
    new_parties = _party_rows(agreement_id, data)
    session.add_all(new_parties)
    changes = {k: v for k, v in changes_between(dict(before), values).items() if k != "search_text"}
    if _party_snapshot(old_parties) != _party_snapshot(new_parties):
        changes["parties"] = [_party_snapshot(old_parties), _party_snapshot(new_parties)]
    audit.record(
        session, principal, "update", "agreement", agreement_id, summary=f"Edited agreement {values['reference']}", changes=changes
    )
    await session.commit()
    return version


async def update_party(
    session: AsyncSession, principal: Principal, agreement_id: uuid.UUID, institution_id: uuid.UUID, data: PartyUpdate
) -> None:
    """A party's own signatory and signing date; a partner may change only its own institution's part."""
    row = await _visible_row(session, principal, agreement_id)
    party = await session.scalar(
        select(AgreementParty).where(col(AgreementParty.agreement_id) == agreement_id, col(AgreementParty.institution_id) == institution_id)
    )
    if party is None:
        raise NotFoundError("party")
    if not may_change_part_of(principal, institution_id):
        raise ForbiddenError(i18n.gettext("You may only change your own institution's part of this agreement."))
    if AgreementStatus(row["status"]) not in (S.DRAFT, S.NEGOTIATING, S.SIGNED):
        raise ConflictError(i18n.gettext("Signatories can no longer change once the agreement is in force."))
    if data.signed_on and row["expires_on"] and data.signed_on >= row["expires_on"]:
        raise ValidationFailed({"signed_on": i18n.gettext("a party cannot sign on or after the expiry date")})
    before = _party_snapshot([party])[0]
    party.signatory_name = nfc(data.signatory_name.strip()) if data.signatory_name and data.signatory_name.strip() else None
    party.signatory_title = nfc(data.signatory_title.strip()) if data.signatory_title and data.signatory_title.strip() else None
    party.signed_on = data.signed_on
    after = _party_snapshot([party])[0]
    await update_versioned(session, Agreement, agreement_id, row["version"], {}, what="agreement")
    audit.record(
        session,
        principal,
        "update_party",
        "agreement",
        agreement_id,
        summary="Updated a party's signatory",
        changes=changes_between(before, after),
    )
    await session.commit()


def _refusal(row: Any, target: AgreementStatus, parties: list[PartyOut], note: str | None, on: date, live_successor: bool) -> str | None:
    """Why the agreement cannot move to `target` now, or None if it can."""
    current = AgreementStatus(row["status"])
    if target not in TRANSITIONS[current]:
        allowed = ", ".join(i18n.gettext(STATUS_LABELS[t]) for t in TRANSITIONS[current]) or i18n.gettext("none (this is a final state)")
        return i18n.gettext(
            "An agreement that is %(current)s cannot become %(target)s; allowed next: %(allowed)s.",
            current=i18n.gettext(STATUS_LABELS[current]),
            target=i18n.gettext(STATUS_LABELS[target]),
            allowed=allowed,
        )
    if target is S.SIGNED:
        if len(parties) < 2:
            return i18n.gettext("It cannot be signed with fewer than two parties.")
        unsigned = [p.code for p in parties if p.signed_on is None]
        if unsigned:
            return i18n.gettext("It cannot be marked signed: %(parties)s has no signing date yet.", parties=", ".join(unsigned))
    if target is S.IN_FORCE:
        if row["effective_on"] is None:
            return i18n.gettext("It cannot enter into force without an effective date.")
        if row["effective_on"] > on:
            return i18n.gettext("It cannot be in force before its effective date (%(day)s).", day=i18n.format_day(row["effective_on"]))
        if row["expires_on"] is not None and row["expires_on"] < on:
            return i18n.gettext("It expired on %(day)s; it cannot enter into force now.", day=i18n.format_day(row["expires_on"]))
    if target is S.EXPIRED:
        if row["expires_on"] is None:
            return i18n.gettext("It has no expiry date (open-ended); terminate it instead.")
        if row["expires_on"] >= on:
            return i18n.gettext("It runs until %(day)s; it cannot be expired before then.", day=i18n.format_day(row["expires_on"]))
    if target is S.TERMINATED and not (note and note.strip()):
        return i18n.gettext("Say why it is terminated (a note is required).")
    if target is S.SUPERSEDED and not live_successor:
        return i18n.gettext("It can only be superseded by a renewal or successor that is signed or in force.")
    return None


async def transition(
    session: AsyncSession, principal: Principal, agreement_id: uuid.UUID, data: TransitionIn, *, on: date | None = None
) -> int:
    row = await _visible_row(session, principal, agreement_id)
    require_manager(principal, N_("change an agreement's status"))
    if row["archived_at"] is not None:
        raise ConflictError(i18n.gettext("This agreement is archived; restore it first."))
    if row["version"] != data.version:
        raise StaleVersionError("agreement")
    parties = await _parties(session, agreement_id)
    live_successor = (
        await session.scalar(
            select(A.id).where(A.predecessor_id == agreement_id, A.status.in_(LIVE_SUCCESSOR_STATUSES), A.archived_at.is_(None))
        )
    ) is not None
    reason = _refusal(row, data.to, parties, data.note, on or today(), live_successor)
    if reason:
        raise TransitionRefused(reason, errors={"to": reason})
    values: dict[str, Any] = {"status": data.to.value, "status_note": (data.note or "").strip() or None}
    if data.to is S.SIGNED and row["signed_on"] is None:
        values["signed_on"] = max(p.signed_on for p in parties if p.signed_on)
    version = await update_versioned(session, Agreement, agreement_id, data.version, values, what="agreement")
    audit.record(
        session,
        principal,
        "transition",
        "agreement",
        agreement_id,
        summary=f"{row['reference']}: {STATUS_LABELS[AgreementStatus(row['status'])]} → {STATUS_LABELS[data.to]}"
        + (f" ({values['status_note']})" if values["status_note"] else ""),
        changes=changes_between(dict(row), values),
    )
    await session.commit()
    return version


async def settle_lapsed(session: AsyncSession, on: date) -> int:
    """Make the status follow the dates: an agreement in force whose expiry has passed runs on by its term when it
    renews automatically, is superseded when a renewal is signed or in force, and expires otherwise.

    Each change is one UPDATE guarded by the state it was read in, so two processes settling the same day change
    (and record in the history) each agreement once. Returns how many changed.
    """
    lapsed = (
        await session.execute(
            select(A.id, A.reference, A.expires_on, A.auto_renew, A.renewal_term_months, A.version).where(
                A.status == S.IN_FORCE.value, A.expires_on.is_not(None), A.expires_on < on
            )
        )
    ).all()
    if not lapsed:
        return 0
    renewed = set(
        await session.scalars(
            select(A.predecessor_id).where(
                A.predecessor_id.in_([r.id for r in lapsed]), A.status.in_(LIVE_SUCCESSOR_STATUSES), A.archived_at.is_(None)
            )
        )
    )
    changed = 0
    for row in lapsed:
        values: dict[str, Any]
        if row.auto_renew and row.renewal_term_months and row.id not in renewed:
            expires = row.expires_on
            while expires < on:
                expires = _add_months(expires, row.renewal_term_months)
            values = {"expires_on": expires}
            summary = (
                f"{row.reference}: renewed automatically by its term ({row.renewal_term_months} months) "
                f"on {row.expires_on.isoformat()}; in force until {expires.isoformat()}"
            )
        else:
            target = S.SUPERSEDED if row.id in renewed else S.EXPIRED
            values = {"status": target.value, "status_note": None}
            summary = f"{row.reference}: in force → {STATUS_LABELS[target]} (its expiry date, {row.expires_on.isoformat()}, has passed)"
        result = await session.execute(
            update(Agreement)
            .where(A.id == row.id, A.version == row.version, A.status == S.IN_FORCE.value)
            .values(**values, version=row.version + 1, updated_at=utcnow())
        )
        if result.rowcount == 1:  # type: ignore[attr-defined]
            changed += 1
            before = {"status": S.IN_FORCE.value, "expires_on": row.expires_on, "status_note": None}
            audit.record(session, None, "settle", "agreement", row.id, summary=summary, changes=changes_between(before, values))
    await session.commit()
    return changed


async def set_archived(session: AsyncSession, principal: Principal, agreement_id: uuid.UUID, *, archived: bool, version: int) -> int:
    row = await _visible_row(session, principal, agreement_id)
    require_manager(principal, N_("archive agreements"))
    return await audit.archive_or_restore(
        session,
        principal,
        Agreement,
        "agreement",
        agreement_id,
        archived=archived,
        currently_archived=row["archived_at"] is not None,
        version=version,
        label=row["reference"],
    )


def _add_months(day: date, months: int) -> date:
    month_index = day.month - 1 + months
    year, month = day.year + month_index // 12, month_index % 12 + 1
    for candidate in (day.day, 30, 29, 28):
        try:
            return date(year, month, min(day.day, candidate))
        except ValueError:
            continue
    raise ValueError(day)


def _renewal_reference(reference: str, existing: set[str]) -> str:
    base = reference
    number = 1
    if "-R" in reference and reference.rsplit("-R", 1)[1].isdigit():
        base, digits = reference.rsplit("-R", 1)
        number = int(digits) + 1
    while f"{base}-R{number}" in existing:
        number += 1
    return f"{base}-R{number}"


async def renew(session: AsyncSession, principal: Principal, agreement_id: uuid.UUID) -> uuid.UUID:
    """Create the successor as a draft linked to this agreement, carrying its parties and commitments."""
    row = await _visible_row(session, principal, agreement_id)
    require_manager(principal, N_("renew agreements"))
    status = AgreementStatus(row["status"])
    if status not in RENEWABLE_STATUSES:
        raise TransitionRefused(
            i18n.gettext(
                "Only a signed, in-force or expired agreement can be renewed; this one is %(status)s.",
                status=i18n.gettext(STATUS_LABELS[status]),
            )
        )
    existing_successor = await session.scalar(
        select(A.reference).where(A.predecessor_id == agreement_id, A.archived_at.is_(None), A.status.not_in((S.TERMINATED.value,)))
    )
    if existing_successor:
        raise ConflictError(i18n.gettext("This agreement already has a successor (%(reference)s).", reference=existing_successor))
    references = set(await session.scalars(select(A.reference).where(A.reference.startswith(row["reference"].split("-R")[0]))))
    effective = (row["expires_on"] + timedelta(days=1)) if row["expires_on"] else today()
    if row["renewal_term_months"]:
        expires = _add_months(effective, row["renewal_term_months"])
    elif row["effective_on"] and row["expires_on"]:
        expires = effective + (row["expires_on"] - row["effective_on"])
    else:
        expires = None
    parties = await _parties(session, agreement_id)
    data = AgreementIn(
        reference=_renewal_reference(row["reference"], references),
        title=row["title"],
        title_native=row["title_native"],
        kind=AgreementKind(row["kind"]),
        summary=row["summary"],
        scope_tags=list(row["scope_tags"] or []),
        parties=[
            PartyIn(institution_id=p.institution_id, signatory_name=p.signatory_name, signatory_title=p.signatory_title) for p in parties
        ],
        effective_on=effective,
        expires_on=expires,
        auto_renew=row["auto_renew"],
        renewal_term_months=row["renewal_term_months"],
        notice_period_days=row["notice_period_days"],
        confidentiality=Confidentiality(row["confidentiality"]),
    )
    successor_id = await create_agreement(session, principal, data, predecessor_id=agreement_id)
    commitments = (await commitments_of(session, principal, [agreement_id])).get(agreement_id, [])
    for position, c in enumerate(commitments):
        if c.status == CommitmentStatus.CANCELLED.value:
            continue
        session.add(
            Commitment(
                agreement_id=successor_id,
                position=position,
                text=c.text,
                responsible_institution_id=c.responsible_institution_id,
                due_on=None,
                yearly_target=c.yearly_target,
                unit=c.unit,
            )
        )
    audit.record(
        session,
        principal,
        "renew",
        "agreement",
        agreement_id,
        summary=f"Renewal drafted as {data.reference}",
        changes={"successor": [None, str(successor_id)]},
    )
    await session.commit()
    return successor_id


async def renewal_diff(session: AsyncSession, principal: Principal, successor_id: uuid.UUID) -> RenewalDiff | None:
    """What changed between an agreement and the one it renews (None if it renews nothing visible)."""
    successor = await get_agreement(session, principal, successor_id)
    if successor.predecessor is None:
        return None
    predecessor = await get_agreement(session, principal, successor.predecessor.id)
    fields = []
    for name in (
        "title",
        "title_native",
        "kind",
        "summary",
        "scope_tags",
        "effective_on",
        "expires_on",
        "auto_renew",
        "renewal_term_months",
        "notice_period_days",
        "confidentiality",
    ):
        before, after = getattr(predecessor, name), getattr(successor, name)
        if before != after:
            fields.append(FieldChange(field=name, before=before, after=after))
    old_parties = {p.code for p in predecessor.parties}
    new_parties = {p.code for p in successor.parties}
    old_commitments = {c.text for c in predecessor.commitments}
    new_commitments = {c.text for c in successor.commitments}
    return RenewalDiff(
        predecessor=AgreementRef(predecessor.id, predecessor.reference, predecessor.title, predecessor.status),
        successor=AgreementRef(successor.id, successor.reference, successor.title, successor.status),
        fields=fields,
        parties_added=sorted(new_parties - old_parties),
        parties_removed=sorted(old_parties - new_parties),
        commitments_added=sorted(new_commitments - old_commitments),
        commitments_removed=sorted(old_commitments - new_commitments),
    )


# ---- commitments --------------------------------------------------------------------------------


async def clean_commitment(session: AsyncSession, agreement_id: uuid.UUID, data: CommitmentIn) -> dict[str, Any]:
    errors: dict[str, str] = {}
    if not data.text.strip():
        errors["text"] = i18n.gettext("is required")
    if data.responsible_institution_id is not None:
        is_party = await session.scalar(
            select(AP.id).where(AP.agreement_id == agreement_id, AP.institution_id == data.responsible_institution_id)
        )
        if is_party is None:
            errors["responsible_institution_id"] = i18n.gettext("must be one of the agreement's parties")
    if data.status is CommitmentStatus.DONE and data.progress != 100:
        errors["progress"] = i18n.gettext("a commitment that is done is at 100%%")
    if errors:
        raise ValidationFailed(errors)
    return {
        "text": nfc(data.text.strip()),
        "responsible_institution_id": data.responsible_institution_id,
        "due_on": data.due_on,
        "yearly_target": data.yearly_target,
        "unit": nfc(data.unit.strip()) if data.unit and data.unit.strip() else None,
        "status": data.status.value,
        "progress": data.progress,
        "notes": nfc(data.notes.strip()) if data.notes and data.notes.strip() else None,
    }


async def add_commitment(session: AsyncSession, principal: Principal, agreement_id: uuid.UUID, data: CommitmentIn) -> uuid.UUID:
    row = await _visible_row(session, principal, agreement_id)
    require_manager(principal, N_("add commitments"))
    if row["archived_at"] is not None:
        raise ConflictError(i18n.gettext("This agreement is archived; restore it first."))
    values = await clean_commitment(session, agreement_id, data)
    count = len((await commitments_of(session, principal, [agreement_id])).get(agreement_id, []))
    commitment = Commitment(agreement_id=agreement_id, position=count, **values)
    session.add(commitment)
    await session.flush()
    audit.record(
        session,
        principal,
        "add_commitment",
        "agreement",
        agreement_id,
        summary=f"Commitment added: {values['text'][:200]}",
        changes={k: [None, v] for k, v in values.items()},
    )
    await session.commit()
    return commitment.id


async def _commitment_row(session: AsyncSession, principal: Principal, agreement_id: uuid.UUID, commitment_id: uuid.UUID) -> Any:
    await _visible_row(session, principal, agreement_id)
    row = (await session.execute(select(table(Commitment)).where(C.id == commitment_id, C.agreement_id == agreement_id))).mappings().first()
    if row is None:
        raise NotFoundError("commitment")
    return row


async def update_commitment(
    session: AsyncSession, principal: Principal, agreement_id: uuid.UUID, commitment_id: uuid.UUID, data: CommitmentUpdate
) -> int:
    before = await _commitment_row(session, principal, agreement_id, commitment_id)
    require_manager(principal, N_("edit commitments"))
    values = await clean_commitment(session, agreement_id, data)
    version = await update_versioned(session, Commitment, commitment_id, data.version, values, what="commitment")
    audit.record(
        session,
        principal,
        "update_commitment",
        "agreement",
        agreement_id,
        summary=f"Commitment edited: {values['text'][:200]}",
        changes=changes_between(dict(before), values),
    )
    await session.commit()
    return version


async def record_commitment_progress(
    session: AsyncSession, principal: Principal, agreement_id: uuid.UUID, commitment_id: uuid.UUID, data: CommitmentProgressIn
) -> CommitmentOut:
    """Status and progress only: coordinators for any commitment, a partner for those its institution is responsible for."""
    before = await _commitment_row(session, principal, agreement_id, commitment_id)
    if not may_change_part_of(principal, before["responsible_institution_id"]):
        raise ForbiddenError(i18n.gettext("You may only report progress on commitments your institution is responsible for."))
    values: dict[str, Any] = {"status": data.status.value, "progress": data.progress}
    if (measure := (await measured(session, principal, [commitment_id])).get(commitment_id)) is not None:
        if data.progress != measure.progress:
            raise ConflictError(
                i18n.gettext(
                    "Progress on this commitment is computed from %(measure)s (%(progress)s%%), not typed; change its status only.",
                    measure=measure.label,
                    progress=measure.progress,
                ),
                errors={"progress": i18n.gettext("computed: %(progress)s%%", progress=measure.progress)},
            )
        follows = STATUS_OF_STATE[measure.state]
        if data.status.value not in (follows, CommitmentStatus.CANCELLED.value):
            raise ConflictError(
                i18n.gettext(
                    "This commitment's status follows its measure (%(state)s); it can only be cancelled.",
                    state=i18n.gettext(STATE_LABELS[measure.state]),
                ),
                errors={"status": i18n.gettext("follows its measure: %(status)s", status=i18n.label(follows).lower())},
            )
        del values["progress"]  # the stored figure stays as typed before; the computed one is what shows
    if data.status is CommitmentStatus.DONE and data.progress != 100:
        raise ValidationFailed({"progress": i18n.gettext("a commitment that is done is at 100%%")})
    if data.notes is not None:
        values["notes"] = nfc(data.notes.strip()) or None
    await update_versioned(session, Commitment, commitment_id, data.version, values, what="commitment")
    audit.record(
        session,
        principal,
        "commitment_progress",
        "agreement",
        agreement_id,
        summary=f"Progress on “{before['text'][:120]}”: {data.status.value}, {data.progress}%",
        changes=changes_between(dict(before), values),
    )
    await session.commit()
    found = next(c for c in (await commitments_of(session, principal, [agreement_id]))[agreement_id] if c.id == commitment_id)
    return found


async def set_commitment_archived(
    session: AsyncSession, principal: Principal, agreement_id: uuid.UUID, commitment_id: uuid.UUID, *, version: int
) -> None:
    before = await _commitment_row(session, principal, agreement_id, commitment_id)
    require_manager(principal, N_("remove commitments"))
    await update_versioned(session, Commitment, commitment_id, version, {"archived_at": utcnow()}, what="commitment")
    audit.record(
        session, principal, "archive_commitment", "agreement", agreement_id, summary=f"Commitment archived: {before['text'][:200]}"
    )
    await session.commit()


async def link_commitment(
    session: AsyncSession, principal: Principal, commitment_id: uuid.UUID, *, record_type: str, record_id: uuid.UUID, label: str
) -> None:
    """Later domains (visits, exchanges, projects) call this to say a record fulfils a commitment."""
    agreement_id = await session.scalar(select(C.agreement_id).where(C.id == commitment_id, C.archived_at.is_(None)))
    if agreement_id is None:
        raise NotFoundError("commitment")
    await _visible_row(session, principal, agreement_id)
    require_manager(principal, N_("link records to commitments"))
    exists_already = await session.scalar(
        select(CL.id).where(CL.commitment_id == commitment_id, CL.record_type == record_type, CL.record_id == record_id)
    )
    if exists_already is None:
        session.add(CommitmentLink(commitment_id=commitment_id, record_type=record_type, record_id=record_id, label=nfc(label)[:300]))
        audit.record(
            session, principal, "link_commitment", "agreement", agreement_id, summary=f"{record_type} “{label[:120]}” fulfils a commitment"
        )
    await session.flush()


# ---- what other parts of the application ask of agreements ----------------------------------------


def visible_ids(principal: Principal) -> Any:
    """The agreements this person may see, as a subquery (follow-up actions on them are listed only then)."""
    return select(A.id).where(agreement_visibility(principal))


def visible_commitment_ids(principal: Principal) -> Any:
    """The commitments this person may see: those of the agreements they see."""
    return select(C.id).join_from(table(Commitment), table(Agreement), A.id == C.agreement_id).where(agreement_visibility(principal))


async def attachment_owner(session: AsyncSession, principal: Principal, agreement_id: uuid.UUID) -> Owner:
    """Documents of an agreement (signed copies...): parties' staff may add, everyone who sees it may read."""
    row = await _visible_row(session, principal, agreement_id)
    parties = tuple(i for i in await session.scalars(select(AP.institution_id).where(AP.agreement_id == agreement_id)) if i is not None)
    is_party = principal.institution_id is not None and principal.institution_id in parties
    return Owner(
        label=f"agreement {row['reference']}",
        url=f"/agreements/{agreement_id}",
        may_add=principal.manages_records or (principal.is_partner and is_party),
        partner_ids=parties,
    )


async def expiring_soon(session: AsyncSession, principal: Principal, *, days: int = 90, limit: int = 10) -> list[AgreementRow]:
    page = await list_agreements(session, principal, view=AgreementView.EXPIRING, days=days, per_page=limit, sort="expires_on")
    return page.items


@dataclass(frozen=True)
class Decision:
    """Something about an agreement that needs deciding soon: notice to give (renew or not) or a renewal to conclude."""

    id: uuid.UUID
    reference: str
    title: str
    translations: dict[str, dict[str, str]]
    kind: str  # "notice" (its notice deadline is near) or "renewal" (a successor is being negotiated)
    due_on: date | None  # the notice deadline; none for a renewal


async def decisions_waiting(session: AsyncSession, principal: Principal, *, today: date, days: int = 90) -> list[Decision]:
    """Notice deadlines of in-force agreements in the next `days`, and renewals in draft or negotiation: the home
    page's "decisions waiting". Bounded by the expiry index: only agreements expiring within `days` plus the longest
    notice period anyone set are read."""
    longest = await session.scalar(
        select(func.max(A.notice_period_days)).where(agreement_visibility(principal), A.status == S.IN_FORCE.value, A.archived_at.is_(None))
    )
    decisions: list[Decision] = []
    if longest:
        rows = await session.execute(
            select(A.id, A.reference, A.title, A.translations, A.expires_on, A.notice_period_days).where(
                agreement_visibility(principal),
                A.status == S.IN_FORCE.value,
                A.archived_at.is_(None),
                A.notice_period_days.is_not(None),
                A.expires_on >= today,
                A.expires_on <= today + timedelta(days=days + int(longest)),
            )
        )
        for agreement_id, reference, title, translations, expires_on, notice_days in rows:
            notice_by = notice_date(expires_on, notice_days)
            if notice_by is not None and today <= notice_by <= today + timedelta(days=days):
                decisions.append(Decision(agreement_id, reference, title, dict(translations or {}), "notice", notice_by))
    renewals = await session.execute(
        select(A.id, A.reference, A.title, A.translations)
        .where(
            agreement_visibility(principal),
            A.predecessor_id.is_not(None),
            A.status.in_((S.DRAFT.value, S.NEGOTIATING.value)),
            A.archived_at.is_(None),
        )
        .order_by(A.reference)
        .limit(20)
    )
    for agreement_id, reference, title, translations in renewals:
        decisions.append(Decision(agreement_id, reference, title, dict(translations or {}), "renewal", None))
    return sorted(decisions, key=lambda d: (d.due_on or date.max, d.reference))  # deadlines first, soonest first


async def status_counts(session: AsyncSession, principal: Principal) -> dict[str, int]:
    rows = await session.execute(
        select(A.status, func.count()).where(agreement_visibility(principal), A.archived_at.is_(None)).group_by(A.status)
    )
    return {status: count for status, count in rows}


async def calendar_events(session: AsyncSession, principal: Principal, start: date, end: date) -> list[Any]:
    """Expiry and notice dates of in-force agreements the person may see."""
    from cooperation.calendar import CalendarEvent

    rows = await session.execute(
        select(A.id, A.reference, A.title, A.expires_on, A.notice_period_days, A.version, A.updated_at)
        .where(agreement_visibility(principal), A.archived_at.is_(None), A.status == S.IN_FORCE.value, A.expires_on.is_not(None))
        .where(A.expires_on >= start, A.expires_on <= end + timedelta(days=3650))
    )
    events = []
    for agreement_id, reference, title, expires_on, notice_days, version, updated_at in rows:
        if expires_on <= end:
            events.append(
                CalendarEvent(
                    uid=f"agreement-expiry-{agreement_id}",
                    summary=i18n.gettext("Agreement %(reference)s expires", reference=reference),
                    start=expires_on,
                    end=expires_on,
                    description=title,
                    url=f"/agreements/{agreement_id}",
                    sequence=version - 1,
                    modified=updated_at,
                )
            )
        notice_by = notice_date(expires_on, notice_days)
        if notice_by is not None and start <= notice_by <= end:
            events.append(
                CalendarEvent(
                    uid=f"agreement-notice-{agreement_id}",
                    summary=i18n.gettext("Notice deadline for %(reference)s", reference=reference),
                    start=notice_by,
                    end=notice_by,
                    description=title,
                    url=f"/agreements/{agreement_id}",
                    sequence=version - 1,
                    modified=updated_at,
                )
            )
    return events


def partners_bound(day: date) -> Any:
    """The institutions party to an agreement in force on the day, with the day it was signed: the partnerships that
    can go dormant, and a piece of news of theirs (cooperation/partners/dormancy.py)."""
    # Today, the status says it (statuses are settled on the first request of the day), read from the index of live
    # agreements by status; a past day needs the dates.
    in_force = A.status == S.IN_FORCE.value if day == date.today() else in_force_on(day)
    return (
        select(AP.institution_id.label("institution_id"), A.signed_on.label("day"))
        .join_from(table(AgreementParty), table(Agreement), A.id == AP.agreement_id)
        .where(in_force, A.archived_at.is_(None))
    )


async def is_shared(session: AsyncSession, agreement_id: uuid.UUID) -> bool:
    return await session.scalar(select(A.confidentiality).where(A.id == agreement_id)) != Confidentiality.INTERNAL.value


async def share(session: AsyncSession, principal: Principal, agreement_id: uuid.UUID) -> None:
    """An internal agreement shared with its parties' partner librarians (cooperation/share.py lists them first)."""
    done = await session.execute(
        update(Agreement)
        .where(A.id == agreement_id, A.confidentiality == Confidentiality.INTERNAL.value)
        .values(confidentiality=Confidentiality.PARTIES.value)
    )
    if done.rowcount:  # type: ignore[attr-defined]
        audit.record(
            session,
            principal,
            "share",
            "agreement",
            agreement_id,
            summary="Shared with the parties",
            changes={"confidentiality": [Confidentiality.INTERNAL.value, Confidentiality.PARTIES.value]},
        )
    await session.commit()
