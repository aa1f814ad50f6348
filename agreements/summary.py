"""Plain values about agreements for reports: what a period saw, what one partner shares, one agreement whole.

Everything goes through the same visibility rule as the pages, so a partner's report holds only what that
partner may see. No ORM objects leave this module: rows become plain dicts for the report templates.
"""

import uuid
from datetime import date, datetime, timedelta
from typing import Any

import msgspec
from sqlalchemy import and_, exists, func, select
from sqlalchemy.ext.asyncio import AsyncSession

from agreements import approval_services, services
from agreements.models import Agreement, AgreementParty
from agreements.schemas import AgreementRow, AgreementView
from cooperation import i18n, versions
from cooperation.auth.access import Principal
from cooperation.dashboard import Figure
from cooperation.db import table
from cooperation.partners.models import Institution
from cooperation.records import plain, row_to
from cooperation.reports.trends import DecisionLine, KeyFigure
from cooperation.settings import Settings

A = table(Agreement).c
AP = table(AgreementParty).c
EXPIRING_DAYS = 90
LIMIT = 200  # a report lists at most this many agreements per heading, and says how many more there are


def _rows(items: list[AgreementRow]) -> list[dict[str, Any]]:
    return [plain(item) for item in items]


async def _select(session: AsyncSession, principal: Principal, *clauses: Any, order: Any = None) -> list[dict[str, Any]]:
    statement = (
        select(*services._ROW_COLUMNS, services.PARTY_CODES)
        .where(services.agreement_visibility(principal), A.archived_at.is_(None), *clauses)
        .order_by(order if order is not None else A.signed_on.desc())
        .limit(LIMIT)
    )
    rows = await session.execute(statement)
    return _rows([row_to(AgreementRow, (*row[:-1], row[-1].split(",") if row[-1] else [])) for row in rows])


async def key_figures(session: AsyncSession, principal: Principal, start: date, end: date, today: date) -> list[KeyFigure]:
    """The portfolio's first figures, counted by the clauses of its tables below (not capped as they are): in force as
    of `today`, signed in the period up to `today`, expiring in the 90 days after. One query."""
    expiring = and_(services.in_force_on(today), A.expires_on >= today, A.expires_on <= today + timedelta(days=EXPIRING_DAYS))
    counts = (
        await session.execute(
            select(
                func.count().filter(services.in_force_on(today)),
                func.count().filter(A.signed_on >= start, A.signed_on <= min(end, today)),
                func.count().filter(expiring),
            ).where(services.agreement_visibility(principal), A.archived_at.is_(None))
        )
    ).one()
    return [
        KeyFigure("agreements_in_force", i18n.gettext("Agreements in force"), counts[0], order=10),
        KeyFigure("agreements_signed", i18n.gettext("Agreements signed"), counts[1], order=11),
        KeyFigure("agreements_expiring", i18n.gettext("Expiring within 90 days"), counts[2], order=12),
    ]


async def decisions(session: AsyncSession, principal: Principal, today: date) -> list[DecisionLine]:
    """Notice deadlines in the next 90 days and renewals in negotiation: the home page's decisions waiting."""
    lines = []
    for d in await services.decisions_waiting(session, principal, today=today, days=EXPIRING_DAYS):
        title = versions.in_language(d.title, d.translations, "title")
        if d.kind == "notice":
            lines.append(DecisionLine(i18n.gettext("Give notice or let it renew: %(title)s", title=title), d.reference, d.due_on, order=10))
        else:
            lines.append(DecisionLine(i18n.gettext("Renewal in negotiation: %(title)s", title=title), d.reference, None, order=11))
    return lines


async def portfolio(session: AsyncSession, principal: Principal, start: date, end: date, today: date) -> dict[str, Any]:
    """As of `today` (the period's last day for a past period): signed in the period; in force then; expiring in the
    90 days after; lapsed in the period without a successor."""
    lapsed = services.view_clause(AgreementView.EXPIRED_NOT_RENEWED, on=today, days=EXPIRING_DAYS)
    expiring = and_(services.in_force_on(today), A.expires_on >= today, A.expires_on <= today + timedelta(days=EXPIRING_DAYS))
    selected = {
        "signed": await _select(session, principal, A.signed_on >= start, A.signed_on <= end),
        "in_force": await _select(session, principal, services.in_force_on(today), order=A.reference),
        "expiring": await _select(session, principal, expiring, order=A.expires_on),
        "expired_not_renewed": await _select(session, principal, lapsed, A.expires_on >= start, A.expires_on <= end, order=A.expires_on),
    }
    return {
        **{
            key: [{**row, "status": services.status_on(row["status"], row["effective_on"], row["expires_on"], today)} for row in rows]
            for key, rows in selected.items()
        },
        "glance": await _commitments_at_a_glance(session, principal, selected["in_force"], today),
        "status_counts": await services.status_counts(session, principal),
        "expiring_days": EXPIRING_DAYS,
        "expiring_until": today + timedelta(days=EXPIRING_DAYS),
    }


async def _commitments_at_a_glance(
    session: AsyncSession, principal: Principal, in_force: list[dict[str, Any]], on: date
) -> list[dict[str, Any]]:
    """Every commitment of the agreements in force, grouped by partner (the parties other than us), each with its
    measure and its state: met, on track, behind (measured by the records that fulfil it), or not measured."""
    home = await session.scalar(select(table(Institution).c.code).where(table(Institution).c.is_home.is_(True)))
    commitments = await services.commitments_of(session, principal, [a["id"] for a in in_force], on=on)
    groups: dict[str, list[dict[str, Any]]] = {}
    for agreement in in_force:
        partners = ", ".join(code for code in agreement["parties"] if code != home) or "—"
        for c in commitments.get(agreement["id"], []):
            state = c.measured_state or ("met" if c.status == "done" else "not_measured")
            measure = c.measured_by or (f"{c.yearly_target} {c.unit or ''}".strip() if c.yearly_target else None)
            groups.setdefault(partners, []).append(
                {"reference": agreement["reference"], "text": c.text, "measure": measure, "progress": c.progress, "state": state}
            )
    return [{"partner": partner, "commitments": items} for partner, items in sorted(groups.items())]


async def partner(session: AsyncSession, principal: Principal, institution_id: uuid.UUID, today: date) -> dict[str, Any]:
    """Every agreement with the institution, each with its commitments and their progress."""
    party = exists(select(AP.id).where(AP.agreement_id == A.id, AP.institution_id == institution_id))
    agreements = await _select(session, principal, party)
    commitments = await services.commitments_of(session, principal, [a["id"] for a in agreements], on=today)
    for agreement in agreements:
        agreement["commitments"] = [plain(c) for c in commitments.get(agreement["id"], [])]
    return {"agreements": agreements}


async def choices(session: AsyncSession, principal: Principal) -> list[tuple[uuid.UUID, str]]:
    """The agreements a dossier can be about, for the report form."""
    page = await services.list_agreements(session, principal, per_page=100, sort="reference")
    return [(a.id, f"{a.reference} · {a.title[:70]}") for a in page.items]


async def dossier(session: AsyncSession, principal: Principal, settings: Settings, agreement_id: uuid.UUID) -> dict[str, Any]:
    """The agreement as its page shows it: parties, terms, commitments with progress, renewal chain, the conditions' hash and
    the history of their approvals by partners' instances."""
    agreement = await services.get_agreement(session, principal, agreement_id)
    current = await approval_services.snapshot(session, principal, agreement_id)
    conditions = approval_services.digest(current)
    lines = await approval_services.history(session, principal, agreement_id, current)
    # The moments stay datetimes (plain() would make them text): the report says their day in its language.
    approvals = msgspec.to_builtins(lines, builtin_types=(date, datetime, uuid.UUID))
    return {"agreement": plain(agreement), "conditions": conditions, "approvals": approvals}


async def year_figures(session: AsyncSession, principal: Principal, first: date, last: date) -> list[Figure]:
    """Agreements signed between the two days (how many are in force the agreements panel says beside it). One count,
    from the index of live agreements by signing date."""
    visible = and_(services.agreement_visibility(principal), A.archived_at.is_(None))
    signed = await session.scalar(select(func.count()).where(visible, A.signed_on >= first, A.signed_on <= last))
    return [Figure(i18n.gettext("Agreements signed"), i18n.format_number(signed or 0), order=30)]


# ---- the public portal (cooperation/portal.py): agreements in force marked public ------------------------------


def _published() -> tuple[Any, ...]:
    return (A.confidentiality == "public", A.status == "in_force", A.archived_at.is_(None))


def portal_institutions() -> Any:
    """The parties to public agreements in force."""
    return select(AP.institution_id).join(table(Agreement), A.id == AP.agreement_id).where(*_published())


async def portal_agreements(session: AsyncSession, language: str, limit: int, offset: int) -> list[dict[str, Any]]:
    """Public agreements in force, the latest in force first, each with its parties (two queries)."""
    rows = (
        await session.execute(
            select(A.id, A.reference, A.title, A.title_native, A.kind, A.summary, A.translations, A.effective_on, A.expires_on)
            .where(*_published())
            .order_by(A.effective_on.desc().nulls_last(), A.id)
            .limit(limit)
            .offset(offset)
        )
    ).all()
    I = table(Institution).c  # noqa: E741
    parties: dict[Any, list[dict[str, Any]]] = {}
    if rows:
        for agreement_id, code, name, name_native, country in await session.execute(
            select(AP.agreement_id, I.code, I.name, I.name_native, I.country)
            .join(table(Institution), I.id == AP.institution_id)
            .where(AP.agreement_id.in_([r.id for r in rows]))
            .order_by(AP.agreement_id, AP.position)
        ):
            parties.setdefault(agreement_id, []).append({"code": code, "name": name, "name_native": name_native, "country": country})
    return [
        {
            "id": r.id,
            "reference": r.reference,
            "title": versions.in_language(r.title, r.translations, "title", language),
            "title_native": r.title_native,
            "kind": r.kind,
            "summary": versions.in_language(r.summary, r.translations, "summary", language),
            "effective_on": r.effective_on,
            "expires_on": r.expires_on,
            "parties": parties.get(r.id, []),
        }
        for r in rows
    ]


async def first_day(session: AsyncSession) -> date | None:
    """The earliest day an agreement names (signed or in force): how far back reports can be asked for."""
    return await session.scalar(select(func.min(func.coalesce(A.signed_on, A.effective_on))).where(A.archived_at.is_(None)))
