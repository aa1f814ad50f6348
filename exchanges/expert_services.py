"""Every rule and every write for individual expert exchanges.

Partners propose exchanges of their own experts and confirm their participation; the home institution's
coordinators approve, run and close them. Whoever sees an exchange sees it whole; each changes only its part.
"""

import uuid
from collections.abc import Awaitable, Callable
from dataclasses import dataclass
from datetime import date
from typing import Any

import msgspec
from sqlalchemy import select
from sqlalchemy.ext.asyncio import AsyncSession

from cooperation import audit, i18n
from cooperation.auth.access import Principal, may_change_part_of, named, require_manager, seen, shared_on_creation, visible
from cooperation.db import table
from cooperation.errors import ForbiddenError, NotFoundError, StaleVersionError, TransitionRefused, ValidationFailed
from cooperation.files import Owner
from cooperation.i18n import N_
from cooperation.partners.models import Institution, Person
from cooperation.records import changes_between, fetch_page, fold_for_search, nfc, order_by, row_to, search_terms, update_versioned
from exchanges.expert_schemas import (
    ExchangeIn,
    ExchangeOut,
    ExchangePage,
    ExchangeRow,
    ExchangeStatus,
    ExchangeTransitionIn,
    ExchangeUpdate,
    ExpertConfirmationIn,
)
from exchanges.models import ExpertExchange

X = table(ExpertExchange).c
I = table(Institution).c  # noqa: E741
P = table(Person).c
S = ExchangeStatus
TRANSITIONS: dict[ExchangeStatus, tuple[ExchangeStatus, ...]] = {
    S.PROPOSED: (S.APPROVED, S.CANCELLED),
    S.APPROVED: (S.UNDER_WAY, S.CANCELLED),
    S.UNDER_WAY: (S.COMPLETED,),
    S.COMPLETED: (),
    S.CANCELLED: (S.PROPOSED,),
}


@dataclass(frozen=True)
class ProgrammeHooks:
    """What the programmes domain (built later, on top of this one) tells exchanges, wired by app.py:
    `check(session, principal, values, exchange_id or None, confirmed_over_quota)` raises when the exchange does not fit
    its programme; `choices(session, principal)` lists the programmes a form offers; `names(session, ids)` names them."""

    check: Callable[[AsyncSession, Principal, dict[str, Any], uuid.UUID | None, bool], Awaitable[None]]
    choices: Callable[[AsyncSession, Principal], Awaitable[list[tuple[uuid.UUID, str]]]]
    names: Callable[[AsyncSession, list[uuid.UUID]], Awaitable[dict[uuid.UUID, str]]]


_programmes: list[ProgrammeHooks] = []


def register_programmes(hooks: ProgrammeHooks) -> None:
    _programmes[:] = [hooks]


async def _check_programme(
    session: AsyncSession, principal: Principal, values: dict[str, Any], exchange_id: uuid.UUID | None, confirmed: bool
) -> None:
    if values.get("programme_id") is None:
        return
    if not _programmes:
        raise ValidationFailed({"programme_id": i18n.gettext("programmes are not available in this installation")})
    await _programmes[0].check(session, principal, values, exchange_id, confirmed)


async def programme_choices(session: AsyncSession, principal: Principal) -> list[tuple[uuid.UUID, str]]:
    """The programmes the person may choose for an exchange (the programmes domain decides which)."""
    return await _programmes[0].choices(session, principal) if _programmes else []


def exchange_visibility(principal: Principal) -> Any:
    return visible(
        principal, participants=select(I.id).where(I.id.in_([X.home_institution_id, X.host_institution_id])), internal=X.shared.is_(False)
    )


async def _clean(session: AsyncSession, principal: Principal, data: ExchangeIn) -> dict[str, Any]:
    errors: dict[str, str] = {}
    expert = await session.get(Person, data.expert_person_id)
    if expert is None or expert.archived_at is not None:
        raise ValidationFailed({"expert_person_id": i18n.gettext("no such person")})
    home = await session.scalar(select(I.id).where(I.is_home.is_(True)))
    if data.ends_on < data.starts_on:
        errors["ends_on"] = i18n.gettext("the stay cannot end before it starts")
    if data.host_institution_id == expert.institution_id:
        errors["host_institution_id"] = i18n.gettext("the host must be another institution than the expert's own")
    elif home not in (data.host_institution_id, expert.institution_id):
        errors["host_institution_id"] = i18n.gettext("an exchange goes to or comes from the home institution")
    if not may_change_part_of(principal, expert.institution_id):
        errors["expert_person_id"] = i18n.gettext("you may only propose experts of your own institution")
    if await session.get(Institution, data.host_institution_id) is None:
        errors["host_institution_id"] = i18n.gettext("no such institution")
    if (data.funding_amount is None) != (data.funding_currency is None):
        errors["funding_currency"] = i18n.gettext("give both the amount and its ISO 4217 currency")
    if data.agreement_id is not None and not await seen(session, principal, "agreement", [data.agreement_id]):
        errors["agreement_id"] = i18n.gettext("no such agreement")
    if errors:
        raise ValidationFailed(errors)
    values: dict[str, Any] = {
        "expert_person_id": data.expert_person_id,
        "home_institution_id": expert.institution_id,
        "host_institution_id": data.host_institution_id,
        "starts_on": data.starts_on,
        "ends_on": data.ends_on,
        "field_of_work": nfc(data.field_of_work.strip()),
        "purpose": nfc(data.purpose.strip()),
        "agreement_id": data.agreement_id,
        "funding": nfc(data.funding.strip()) if data.funding else None,
        "funding_amount": data.funding_amount,
        "funding_currency": data.funding_currency.upper() if data.funding_currency else None,
        "outcome": nfc(data.outcome.strip()),
        "programme_id": data.programme_id,
    }
    values["search_text"] = fold_for_search(expert.name, expert.name_native, values["field_of_work"], values["purpose"])
    return values


def require_may_propose(principal: Principal) -> None:
    """The department and partner librarians propose exchanges; directors read them."""
    if not (principal.manages_records or principal.is_partner):
        raise ForbiddenError(i18n.gettext("Your role may not propose exchanges."))


async def propose(session: AsyncSession, principal: Principal, data: ExchangeIn) -> uuid.UUID:
    require_may_propose(principal)
    values = await _clean(session, principal, data)
    values["shared"] = shared_on_creation(principal, data.shared)
    await _check_programme(session, principal, values, None, data.confirm_over_quota)
    exchange = ExpertExchange(**values, status=S.PROPOSED.value, expert_confirmed=principal.is_partner)
    session.add(exchange)
    await session.flush()
    audit.record(
        session, principal, "create", "expert_exchange", exchange.id, summary=f"Expert exchange proposed: {values['field_of_work']}"
    )
    await session.commit()
    return exchange.id


async def ensure_visible(session: AsyncSession, principal: Principal, exchange_id: uuid.UUID) -> None:
    """404 unless the person may see it: before a form is read, so a bad form cannot tell that a hidden record exists."""
    await _row(session, principal, exchange_id)


async def _row(session: AsyncSession, principal: Principal, exchange_id: uuid.UUID) -> Any:
    row = (
        (await session.execute(select(table(ExpertExchange)).where(X.id == exchange_id, exchange_visibility(principal)))).mappings().first()
    )
    if row is None:
        raise NotFoundError("expert exchange")
    return row


async def _keeping_hidden_links(session: AsyncSession, principal: Principal, row: Any, data: ExchangeUpdate) -> ExchangeUpdate:
    """A partner's form never showed the agreement or programme it may not see: left empty, they stay as stored."""
    kept: dict[str, Any] = {}
    for field, kind in (("agreement_id", "agreement"), ("programme_id", "programme")):
        stored = row[field]
        if stored is not None and getattr(data, field) is None and not await seen(session, principal, kind, [stored]):
            kept[field] = stored
    return msgspec.structs.replace(data, **kept) if kept else data


async def update(session: AsyncSession, principal: Principal, exchange_id: uuid.UUID, data: ExchangeUpdate) -> None:
    row = await _row(session, principal, exchange_id)
    if not (principal.manages_records or (may_change_part_of(principal, row["home_institution_id"]) and row["status"] == S.PROPOSED.value)):
        raise ForbiddenError(i18n.gettext("Partners may change only their own proposals, while they are proposed."))
    data = await _keeping_hidden_links(session, principal, row, data)
    values = await _clean(session, principal, data)
    if data.shared:
        values["shared"] = True
    if row["status"] != S.CANCELLED.value:  # a cancelled exchange uses no quota
        await _check_programme(session, principal, values, exchange_id, data.confirm_over_quota)
    await update_versioned(session, ExpertExchange, exchange_id, data.version, values, what="expert exchange")
    audit.record(
        session,
        principal,
        "update",
        "expert_exchange",
        exchange_id,
        summary="Expert exchange edited",
        changes={k: v for k, v in changes_between(dict(row), values).items() if k != "search_text"},
    )
    await session.commit()


async def confirm_expert(session: AsyncSession, principal: Principal, exchange_id: uuid.UUID, data: ExpertConfirmationIn) -> None:
    """The expert's own institution (or a coordinator) confirms that the expert will go."""
    row = await _row(session, principal, exchange_id)
    if not may_change_part_of(principal, row["home_institution_id"]):
        raise ForbiddenError(i18n.gettext("Only the expert's own institution confirms the expert."))
    if row["status"] not in (S.PROPOSED.value, S.APPROVED.value):
        raise TransitionRefused(
            i18n.gettext(
                "The exchange is %(status)s; the expert's confirmation can no longer change.", status=i18n.label(row["status"]).lower()
            )
        )
    await update_versioned(session, ExpertExchange, exchange_id, data.version, {"expert_confirmed": data.confirmed}, what="expert exchange")
    audit.record(
        session,
        principal,
        "confirm_expert",
        "expert_exchange",
        exchange_id,
        summary="Expert confirmed" if data.confirmed else "Expert confirmation withdrawn",
    )
    await session.commit()


async def transition(
    session: AsyncSession, principal: Principal, exchange_id: uuid.UUID, data: ExchangeTransitionIn, *, on: date | None = None
) -> None:
    row = await _row(session, principal, exchange_id)
    require_manager(principal, N_("approve or close exchanges"))
    if row["version"] != data.version:
        raise StaleVersionError("expert exchange")
    current, target, today = ExchangeStatus(row["status"]), ExchangeStatus(data.to), on or date.today()
    if target not in TRANSITIONS[current]:
        allowed = ", ".join(i18n.label(t.value).lower() for t in TRANSITIONS[current]) or i18n.gettext("none (this is a final state)")
        now, then = i18n.label(current.value).lower(), i18n.label(target.value).lower()
        raise TransitionRefused(
            i18n.gettext(
                "An exchange that is %(current)s cannot become %(target)s; allowed next: %(allowed)s.",
                current=now,
                target=then,
                allowed=allowed,
            )
        )
    if target is S.APPROVED and not row["expert_confirmed"]:
        raise TransitionRefused(i18n.gettext("The expert's institution has not confirmed the expert yet."))
    if target is S.UNDER_WAY and not row["starts_on"] <= today <= row["ends_on"]:
        raise TransitionRefused(i18n.gettext("The stay runs %(dates)s.", dates=i18n.format_days(row["starts_on"], row["ends_on"])))
    if target is S.COMPLETED and not row["outcome"]:
        raise TransitionRefused(i18n.gettext("Record what was learned or transferred (the outcome) before closing the exchange."))
    if target is S.CANCELLED and not (data.note and data.note.strip()):
        raise TransitionRefused(i18n.gettext("Say why the exchange is cancelled (a note is required)."))
    if current is S.CANCELLED:  # back in the count: it must fit its programme's quota again
        await _check_programme(session, principal, dict(row), exchange_id, False)
    values = {"status": target.value, "status_note": (data.note or "").strip() or None}
    await update_versioned(session, ExpertExchange, exchange_id, data.version, values, what="expert exchange")
    audit.record(session, principal, "transition", "expert_exchange", exchange_id, summary=f"{current.value} → {target.value}")
    await session.commit()


async def get(session: AsyncSession, principal: Principal, exchange_id: uuid.UUID) -> ExchangeOut:
    stored = await _row(session, principal, exchange_id)
    home, host = table(Institution).alias("home"), table(Institution).alias("host")
    row = (
        await session.execute(
            select(
                X.id,
                X.expert_person_id,
                P.name,
                P.name_native,
                X.home_institution_id,
                home.c.code,
                X.host_institution_id,
                host.c.code,
                X.starts_on,
                X.ends_on,
                X.field_of_work,
                X.purpose,
                X.status,
                X.status_note,
                X.expert_confirmed,
                named(principal, "agreement", X.agreement_id, X.agreement_id).label("agreement_id"),
                X.funding,
                X.funding_amount,
                X.funding_currency,
                X.outcome,
                X.version,
                X.created_at,
                named(principal, "programme", X.programme_id, X.programme_id).label("programme_id"),
            )
            .select_from(
                table(ExpertExchange)
                .join(table(Person), P.id == X.expert_person_id)
                .join(home, home.c.id == X.home_institution_id)
                .join(host, host.c.id == X.host_institution_id)
            )
            .where(X.id == exchange_id)
        )
    ).one()
    exchange = row_to(ExchangeOut, row)
    if exchange.programme_id is not None and _programmes:
        exchange.programme_name = (await _programmes[0].names(session, [exchange.programme_id])).get(exchange.programme_id)
    exchange.archived = stored["archived_at"] is not None
    status = ExchangeStatus(exchange.status)
    exchange.allowed_transitions = [t.value for t in TRANSITIONS[status]] if principal.manages_records else []
    exchange.may_edit = principal.manages_records or (may_change_part_of(principal, exchange.home_institution_id) and status is S.PROPOSED)
    exchange.may_confirm = may_change_part_of(principal, exchange.home_institution_id) and status in (S.PROPOSED, S.APPROVED)
    return exchange


async def list_exchanges(
    session: AsyncSession,
    principal: Principal,
    *,
    page: int = 1,
    per_page: int = 25,
    sort: str | None = None,
    q: str | None = None,
    status: str | None = None,
) -> ExchangePage:
    home, host = table(Institution).alias("home"), table(Institution).alias("host")
    statement = (
        select(X.id, P.name, home.c.code, host.c.code, X.starts_on, X.ends_on, X.field_of_work, X.status, X.expert_confirmed)
        .select_from(
            table(ExpertExchange)
            .join(table(Person), P.id == X.expert_person_id)
            .join(home, home.c.id == X.home_institution_id)
            .join(host, host.c.id == X.host_institution_id)
        )
        .where(exchange_visibility(principal), X.archived_at.is_(None))
    )
    for term in search_terms(q):
        statement = statement.where(X.search_text.contains(term, autoescape=True))
    if status:
        statement = statement.where(X.status == status)
    paged = await fetch_page(
        session,
        statement,
        page=page,
        per_page=per_page,
        order=order_by(sort, {"starts_on": X.starts_on, "status": X.status}, "-starts_on"),
        tiebreak=X.id,
    )
    return ExchangePage(
        items=[row_to(ExchangeRow, r) for r in paged.rows], total=paged.total, total_exact=paged.total_exact, page=page, per_page=per_page
    )


def institutions_sharing_with(institution_id: uuid.UUID) -> Any:
    """The other side of an expert exchange with `institution_id` (so its partner librarians see it)."""
    return (
        select(X.host_institution_id)
        .where(X.home_institution_id == institution_id, X.shared.is_(True))
        .union(select(X.home_institution_id).where(X.host_institution_id == institution_id, X.shared.is_(True)))
    )


def visible_ids(principal: Principal) -> Any:
    """The expert exchanges this person may see, as a subquery."""
    return select(X.id).where(exchange_visibility(principal))


async def attachment_owner(session: AsyncSession, principal: Principal, exchange_id: uuid.UUID) -> Owner:
    """The expert's report and other documents: staff and both institutions' partners may add them."""
    row = await _row(session, principal, exchange_id)
    takes_part = principal.institution_id in (row["home_institution_id"], row["host_institution_id"])
    return Owner(
        label=i18n.gettext("the expert exchange “%(field)s”", field=row["field_of_work"]),
        url=f"/exchanges/{exchange_id}",
        may_add=principal.manages_records or (principal.is_partner and takes_part),
        partner_ids=tuple(i for i in (row["home_institution_id"], row["host_institution_id"]) if i is not None),
    )


async def calendar_events(session: AsyncSession, principal: Principal, start: date, end: date) -> list[Any]:
    """Expert stays in the window that the person may see (one query), the expert listed as the participant."""
    from cooperation.calendar import CalendarEvent

    home, host = table(Institution).alias("home"), table(Institution).alias("host")
    rows = await session.execute(
        select(
            X.id,
            X.field_of_work,
            X.starts_on,
            X.ends_on,
            X.status,
            P.name,
            P.name_native,
            home.c.code,
            host.c.code,
            host.c.city,
            X.version,
            X.updated_at,
        )
        .select_from(
            table(ExpertExchange)
            .join(table(Person), P.id == X.expert_person_id)
            .join(home, home.c.id == X.home_institution_id)
            .join(host, host.c.id == X.host_institution_id)
        )
        .where(
            exchange_visibility(principal),
            X.archived_at.is_(None),
            X.status != S.CANCELLED.value,
            X.ends_on >= start,
            X.starts_on <= end,
        )
    )
    return [
        CalendarEvent(
            uid=f"exchange-{r.id}",
            summary=i18n.gettext("Expert exchange: %(expert)s (%(home)s → %(host)s)", expert=r.name_native or r.name, home=r[7], host=r[8]),
            start=r.starts_on,
            end=r.ends_on,
            description=f"{r.field_of_work}\n" + i18n.gettext("Status: %(status)s", status=i18n.label(r.status)),
            location=r.city,
            url=f"/exchanges/{r.id}",
            attendees=[i18n.gettext("%(name)s (expert, %(institution)s)", name=r.name_native or r.name, institution=r[7])],
            sequence=r.version - 1,
            modified=r.updated_at,
        )
        for r in rows
    ]


async def set_archived(session: AsyncSession, principal: Principal, exchange_id: uuid.UUID, *, archived: bool, version: int) -> int:
    row = await _row(session, principal, exchange_id)
    require_manager(principal, N_("archive expert exchanges"))
    return await audit.archive_or_restore(
        session,
        principal,
        ExpertExchange,
        "expert_exchange",
        exchange_id,
        archived=archived,
        currently_archived=row["archived_at"] is not None,
        version=version,
        label=row["field_of_work"],
    )
