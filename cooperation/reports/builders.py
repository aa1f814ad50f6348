"""What goes into each report, gathered as plain values, and the HTML it becomes.

Domains contribute through registries that app.py fills from their `summary.py`: sections of the portfolio
report and of the partner dossier, and single-record reports (agreement dossier, visit summary). Every
section is built with the requesting person's principal, so a partner's report holds only what that partner
may see: the same rule as the pages, applied by the same services.
"""

import asyncio
import uuid
from collections.abc import Awaitable, Callable
from dataclasses import dataclass
from datetime import date, datetime
from functools import cache
from typing import Any

from jinja2 import Environment, FileSystemLoader, StrictUndefined, select_autoescape
from sqlalchemy import select
from sqlalchemy.ext.asyncio import AsyncSession

from cooperation import i18n as cooperation_i18n
from cooperation import versions
from cooperation.auth.access import Principal
from cooperation.db import table
from cooperation.errors import ValidationFailed
from cooperation.i18n import N_, gettext
from cooperation.partners import dormancy
from cooperation.partners.models import Institution
from cooperation.partners.services import get_institution, logo_uri
from cooperation.reports import i18n, periods, trends
from cooperation.settings import PROJECT_ROOT, Settings

PortfolioSection = Callable[[AsyncSession, Principal, date, date, date], Awaitable[dict[str, Any]]]
PartnerSection = Callable[[AsyncSession, Principal, uuid.UUID, date], Awaitable[dict[str, Any]]]
RecordReport = Callable[[AsyncSession, Principal, Settings, uuid.UUID], Awaitable[dict[str, Any]]]
PeriodReport = Callable[[AsyncSession, Principal, Settings, periods.Period], Awaitable[dict[str, Any]]]

_portfolio: dict[str, PortfolioSection] = {}
_partner: dict[str, PartnerSection] = {}
_records: dict[str, RecordReport] = {}
_period_reports: dict[str, PeriodReport] = {}  # registers kept over a period: the gift register, the exchange report

KINDS = ("portfolio", "partner", "agreement", "visit")


def kinds() -> tuple[str, ...]:
    return KINDS + tuple(_period_reports)


def over_a_period(kind: str) -> bool:
    return kind == "portfolio" or kind in _period_reports


def register_portfolio_section(name: str, section: PortfolioSection) -> None:
    _portfolio[name] = section


def register_partner_section(name: str, section: PartnerSection) -> None:
    _partner[name] = section


def register_record_report(kind: str, report: RecordReport) -> None:
    _records[kind] = report


def register_period_report(kind: str, report: PeriodReport) -> None:
    """A report over a period with no record to choose (`reports/<kind>.html`, title `t("<kind>_title")`); the
    builder raises NotFound for a reader who may not see it."""
    _period_reports[kind] = report


async def partner_sections(session: AsyncSession, principal: Principal, institution_id: uuid.UUID, today: date) -> dict[str, Any]:
    """What the institution shares with us, by domain, as this person may see it: the partner dossier (PDF) and the
    institution's page show the same facts."""
    return {name: await section(session, principal, institution_id, today) for name, section in _partner.items()}


class ReportError(Exception):
    """A report that cannot be made, and why (recorded on the run)."""


@dataclass
class Built:
    title: str
    html: str
    summary: list[Any]  # an e-mail's body: lines, or the portfolio's tiles and decisions (trends.digest)


async def check_period_report(session: AsyncSession, principal: Principal, settings: Settings, kind: str) -> None:
    """NotFound unless the person may read the register a report of `kind` is made from."""
    await _period_reports[kind](session, principal, settings, periods.containing("month", date.today()))


async def check_record(session: AsyncSession, principal: Principal, settings: Settings, kind: str, record_id: uuid.UUID) -> None:
    """NotFound unless the person may see the record a report of `kind` is about."""
    await _records[kind](session, principal, settings, record_id)


@cache
def environment(language: str) -> Environment:
    env = Environment(
        loader=FileSystemLoader(PROJECT_ROOT / "templates"),
        autoescape=select_autoescape(["html"]),
        undefined=StrictUndefined,  # a misspelt value fails the test, not the director's report
        trim_blocks=True,
        lstrip_blocks=True,
    )
    env.filters.update(i18n.filters(language), in_language=versions.in_language, language_name=cooperation_i18n.language_name)
    env.globals.update(t=i18n.translator(language), language=language)
    return env


def check_request(kind: str, scope_id: uuid.UUID | None, period_key: str | None, language: str) -> periods.Period | None:
    errors: dict[str, str] = {}
    if kind not in kinds():
        errors["kind"] = gettext("unknown report %(kind)s; choose %(kinds)s", kind=repr(kind), kinds=", ".join(kinds()))
    if language not in i18n.LANGUAGES:
        offered = ", ".join(f"{code} ({name})" for code, name in i18n.LANGUAGES.items())
        errors["language"] = gettext("reports are written in %(offered)s, not %(language)s", offered=offered, language=repr(language))
    if kind in kinds() and not over_a_period(kind) and scope_id is None:
        what = {
            "partner": N_("choose the partner institution"),
            "agreement": N_("choose the agreement"),
            "visit": N_("choose the visit"),
        }.get(kind, N_("choose what it is about"))
        errors["scope_id"] = gettext(what)
    period = None
    if over_a_period(kind):
        if not period_key:
            errors["period"] = gettext("choose the period, such as 2026-10, 2026-Q3 or 2026")
        else:
            try:
                period = periods.parse(period_key)
            except ValidationFailed as exc:
                errors |= exc.errors
    if errors:
        raise ValidationFailed(errors)
    return period


async def _home(session: AsyncSession) -> dict[str, Any] | None:
    """The home institution, for the report's cover line."""
    I = table(Institution).c  # noqa: E741
    row = (await session.execute(select(I.code, I.name, I.name_native).where(I.is_home.is_(True)))).first()
    return dict(row._mapping) if row else None


def _highlights(sections: dict[str, dict[str, Any]], t: Any) -> list[str]:
    lines = []
    agreements, exchanges, programs = sections.get("agreements", {}), sections.get("exchanges", {}), sections.get("programs", {})
    if agreements:
        lines += [
            t("n_signed", n=len(agreements["signed"])),
            t("n_in_force", n=len(agreements["in_force"])),
            t("n_expiring", n=len(agreements["expiring"])),
        ]
    if exchanges:
        lines += [t("n_visits", n=len(exchanges["visits"])), t("n_exchanges", n=len(exchanges["exchanges"]))]
        lines.append(t("n_overdue", n=len(exchanges["overdue"])))
    if programs:
        lines.append(t("n_at_risk", n=sum(1 for p in programs["projects"] if p["risks"])))
    return lines


async def build(
    session: AsyncSession,
    principal: Principal,
    settings: Settings,
    kind: str,
    scope_id: uuid.UUID | None,
    period: periods.Period | None,
    language: str,
    *,
    today: date | None = None,
    now: datetime | None = None,
) -> Built:
    """Gather the values (raising NotFound for what the person may not see) and render the report's HTML."""
    # What the services say (a project's risks, a commitment's measure) is said in the report's language too.
    today = today or date.today()
    with cooperation_i18n.using(language):
        env = environment(language)
        t = i18n.translator(language)
        context: dict[str, Any] = {
            "prepared_for": principal.name,
            "generated_on": (now or datetime.now()).date(),
            "kind": kind,
            "home_logo": await logo_uri(session, settings),
        }
        if kind == "portfolio":
            assert period is not None
            # A period report is as of the period's last day: figures, statuses and forecasts as they stood then.
            as_of = min(today, period.end)
            sections = {name: await section(session, principal, period.start, period.end, as_of) for name, section in _portfolio.items()}
            title = f"{t('portfolio_title')} — {period.label(language)}"
            context |= {"sections": sections, "period_label": period.label(language), "highlights": _highlights(sections, t)}
            # Partnerships gone quiet as of the period's last day (the department's reports only: dormancy.py says so).
            dormant = await dormancy.dormant_partners(session, principal, as_of, settings.dormant_months)
            context |= {"dormant": dormant, "dormant_months": settings.dormant_months}
            # Page 1: the key figures with their trend, then what to decide.
            tiles = await trends.tiles(session, principal, period, as_of, language)
            decisions = await trends.decisions(session, principal, as_of)
            decisions += [
                trends.DecisionLine(t("dormant_line", name=d.name, months=settings.dormant_months), d.code, None, 50) for d in dormant
            ]
            context |= {"tiles": tiles, "decisions": decisions, "home": await _home(session)}
            context["highlights"] = trends.digest(tiles, decisions, t, language)
        elif kind in _period_reports:
            assert period is not None
            context |= await _period_reports[kind](session, principal, settings, period)
            title = f"{t(kind + '_title')} — {period.label(language)}"
            context |= {"period_label": period.label(language)}
        elif kind == "partner":
            assert scope_id is not None
            institution = await get_institution(session, principal, scope_id)
            sections = await partner_sections(session, principal, scope_id, today)
            title = f"{t('partner_title')} — {institution.name}"
            context |= {"sections": sections, "institution": institution}
        else:
            assert scope_id is not None
            context |= await _records[kind](session, principal, settings, scope_id)
            record = context.get("agreement") or context.get("visit") or {}
            named = record.get("reference") or versions.in_language(record.get("title", ""), record.get("translations"), "title", language)
            title = f"{t(kind + '_title')} — {named}"
        context["title"] = title
        template = env.get_template(f"reports/{kind}.html")
        html = await asyncio.to_thread(template.render, **context)  # a long report's layout must not hold the event loop
        return Built(title=title[:300], html=html, summary=context.get("highlights") or [title])
