"""Report pages and API: ask for a report, follow its progress, download the PDF."""

import uuid
from collections.abc import Awaitable, Callable
from datetime import date
from typing import Any

import msgspec
from litestar import Request, Response, get, post, put
from litestar.di import NamedDependency
from litestar.params import FromPath, JSONBody
from litestar.response import Template
from sqlalchemy.ext.asyncio import AsyncSession

from cooperation import files
from cooperation import i18n as cooperation_i18n
from cooperation.auth.access import Principal
from cooperation.dashboard import Panel
from cooperation.errors import ValidationFailed
from cooperation.forms import parse_form
from cooperation.partners.services import institution_choices
from cooperation.reports import delivery, i18n, periods, services, subscriptions
from cooperation.reports.services import ReportRequestIn, RunOut
from cooperation.web import form_dict, form_version, render, see_other

# The record lists for the form come from the domains (registered by app.py), like every other hook.
ChoiceSource = Any
_choice_sources: dict[str, ChoiceSource] = {}


def register_choices(kind: str, source: ChoiceSource) -> None:
    """`source(session, principal)` gives [(id, label)] of the records a report of `kind` can be about."""
    _choice_sources[kind] = source


_first_days: list[Callable[[AsyncSession], Awaitable[date | None]]] = []


def register_first_day(source: Callable[[AsyncSession], Awaitable[date | None]]) -> None:
    """`source(session)`: the earliest day a domain's records name (reports can be asked for back to it)."""
    if source not in _first_days:
        _first_days.append(source)


async def _first_day(session: AsyncSession, principal: Principal, today: date) -> date:
    """How far back the page offers periods: the department's first record. A partner is offered the last years
    only — the first day of every record is the department's to know, not a partner's (an internal 2015 agreement
    would show through the year list)."""
    found = [day for source in _first_days if (day := await source(session)) is not None] if principal.reads_everything else []
    return min([*found, date(today.year - 1, 1, 1)])


def period_key(form: dict[str, Any]) -> str | None:
    """The period the form's fields name: a month, a quarter, a year or a range of days (a key typed whole, as the
    API takes it, too). None when nothing was chosen."""
    if form.get("period"):
        return str(form["period"])
    kind = form.get("period_kind") or "month"
    if kind == "month":
        return str(form.get("period_month") or "") or None
    if kind == "quarter":
        return f"{form.get('period_quarter_year')}-Q{form.get('period_quarter')}" if form.get("period_quarter_year") else None
    if kind == "year":
        return str(form.get("period_year") or "") or None
    start, end = form.get("period_from"), form.get("period_to")
    return f"{start}..{end}" if start and end else None


async def _page(
    request: Request[Any, Any, Any],
    db: AsyncSession,
    principal: Principal,
    values: dict[str, Any],
    errors: dict[str, str],
    status_code: int,
) -> Template:
    choices = {kind: await source(db, principal) for kind, source in _choice_sources.items()}
    today = date.today()
    return render(
        request,
        "reports/pages/index.html",
        status_code=status_code,
        values=values,
        errors=errors,
        runs=await services.list_runs(db, principal, limit=20),
        institutions=[i for i in await institution_choices(db, principal) if not i.is_home],
        choices=choices,
        years=list(range(today.year, (await _first_day(db, principal, today)).year - 1, -1)),  # back to the first record
        last_month=periods.previous("month", today),
        today=today,
        languages=i18n.LANGUAGES,
    )


@get("/reports", name="reports")
async def index(request: Request[Any, Any, Any], db: NamedDependency[AsyncSession], principal: NamedDependency[Principal]) -> Template:
    return await _page(request, db, principal, {"kind": "portfolio", "language": cooperation_i18n.current()}, {}, 200)


@post("/reports", name="report_request")
async def ask(request: Request[Any, Any, Any], db: NamedDependency[AsyncSession], principal: NamedDependency[Principal]) -> Response[Any]:
    form = await form_dict(request)
    kind = str(form.get("kind") or "")
    # One form, several record lists: the one that matches the kind is the scope.
    fields = {"kind": kind, "language": form.get("language"), "period": period_key(form), "scope_id": form.get(f"scope_{kind}")}
    try:
        data = parse_form(ReportRequestIn, fields)
        run_id = await services.request_report(db, principal, request.app.state.settings, request.app.state.reports, data)
    except ValidationFailed as exc:
        await db.rollback()
        return await _page(request, db, principal, form, exc.errors, 422)
    return see_other(f"/reports/runs/{run_id}")


@get("/reports/runs/{run_id:uuid}", name="report_run")
async def show(
    request: Request[Any, Any, Any], db: NamedDependency[AsyncSession], principal: NamedDependency[Principal], run_id: FromPath[uuid.UUID]
) -> Template:
    """While the PDF renders, the page polls itself (htmx) and swaps in the status."""
    return render(request, "reports/pages/run.html", run=await services.get_run(db, principal, run_id))


@get("/reports/runs/{run_id:uuid}/pdf", name="report_pdf")
async def download(
    request: Request[Any, Any, Any], db: NamedDependency[AsyncSession], principal: NamedDependency[Principal], run_id: FromPath[uuid.UUID]
) -> Response[Any]:
    settings = request.app.state.settings
    digest, filename = await services.pdf_file(db, principal, settings, run_id)
    return await files.served(
        settings, digest, filename=filename, media_type="application/pdf", headers={"X-Content-Type-Options": "nosniff"}
    )


@post("/api/v1/reports", name="api_report_request", tags=["reports"], status_code=202)
async def api_ask(
    request: Request[Any, Any, Any],
    db: NamedDependency[AsyncSession],
    principal: NamedDependency[Principal],
    data: JSONBody[ReportRequestIn],
) -> RunOut:
    """Ask for a report (`portfolio` with a `period`; `partner`, `agreement` or `visit` with a `scope_id`), in `en` or
    `fr`. Answers at once with the run; poll it until `status` is `ready`, then fetch `download_url`."""
    run_id = await services.request_report(db, principal, request.app.state.settings, request.app.state.reports, data)
    return await services.get_run(db, principal, run_id)


@get("/api/v1/reports", name="api_reports", tags=["reports"])
async def api_list(db: NamedDependency[AsyncSession], principal: NamedDependency[Principal]) -> list[RunOut]:
    """The reports you asked for (an administrator: every report), newest first."""
    return await services.list_runs(db, principal)


@get("/api/v1/reports/{run_id:uuid}", name="api_report", tags=["reports"])
async def api_get(db: NamedDependency[AsyncSession], principal: NamedDependency[Principal], run_id: FromPath[uuid.UUID]) -> RunOut:
    """A report you asked for: its status (rendering, ready, failed) and, when ready, where to download the PDF."""
    return await services.get_run(db, principal, run_id)


routes = [index, ask, show, download, api_ask, api_list, api_get]


async def dashboard_panel(db: AsyncSession, principal: Principal) -> Panel:
    """The latest report the person may open, with its link; or where to ask for one."""
    return Panel(
        title=cooperation_i18n.gettext("Latest report"),
        template="reports/pages/_dashboard.html",
        order=40,
        context={"run": await services.latest_ready(db, principal)},
    )


# ---- subscriptions and the run archive ------------------------------------------------------------


async def _subscriptions_page(
    request: Request[Any, Any, Any],
    db: AsyncSession,
    principal: Principal,
    values: dict[str, Any],
    errors: dict[str, str],
    status_code: int,
) -> Template:
    from cooperation.scheduler import next_fire

    choices = {kind: await source(db, principal) for kind, source in _choice_sources.items()}
    listed = await subscriptions.list_subscriptions(db, principal)
    return render(
        request,
        "reports/pages/subscriptions.html",
        status_code=status_code,
        values=values,
        errors=errors,
        subscriptions=listed,
        next_sent={s.id: next_fire(msgspec.structs.asdict(s)) for s in listed},
        runs=await services.list_runs(db, principal, limit=100),
        institutions=[i for i in await institution_choices(db, principal) if not i.is_home],
        choices=choices,
        languages=i18n.LANGUAGES,
        default_zone=principal.time_zone,
        sent_now=bool(request.query_params.get("sent")),  # "Send me one now" was clicked: say it is on its way
    )


@get("/reports/subscriptions", name="report_subscriptions")
async def subscriptions_page(
    request: Request[Any, Any, Any], db: NamedDependency[AsyncSession], principal: NamedDependency[Principal]
) -> Template:
    defaults = {"kind": "portfolio", "frequency": "monthly", "day": "1", "at_time": "07:00", "time_zone": principal.time_zone}
    return await _subscriptions_page(request, db, principal, defaults | {"recipient_emails": principal.email}, {}, 200)


@post("/reports/subscriptions", name="report_subscription_create")
async def subscription_create(
    request: Request[Any, Any, Any], db: NamedDependency[AsyncSession], principal: NamedDependency[Principal]
) -> Response[Any]:
    form = await form_dict(request)
    kind = str(form.get("kind") or "")
    fields = {k: v for k, v in form.items() if not k.startswith("scope_")} | {"scope_id": form.get(f"scope_{kind}")}
    try:
        data = parse_form(subscriptions.SubscriptionIn, fields)
        await subscriptions.create(db, principal, request.app.state.settings, data)
    except ValidationFailed as exc:
        await db.rollback()
        return await _subscriptions_page(request, db, principal, form, exc.errors, 422)
    request.app.state.scheduler.changed()
    return see_other("/reports/subscriptions")


def subscription_values(subscription: subscriptions.SubscriptionOut) -> dict[str, Any]:
    values: dict[str, Any] = {
        f: "" if getattr(subscription, f) is None else str(getattr(subscription, f))
        for f in ("kind", "frequency", "period_kind", "day", "time_zone", "language")
    }
    values["at_time"] = subscription.at_time.strftime("%H:%M")
    values["recipient_emails"] = ", ".join(subscription.recipient_emails)
    values[f"scope_{subscription.kind}"] = str(subscription.scope_id or "")
    values["version"] = subscription.version
    return values


async def _edit_page(
    request: Request[Any, Any, Any],
    db: AsyncSession,
    principal: Principal,
    subscription_id: uuid.UUID,
    values: dict[str, Any],
    errors: dict[str, str],
    status_code: int,
) -> Template:
    return render(
        request,
        "reports/pages/subscription_edit.html",
        status_code=status_code,
        subscription_id=subscription_id,
        values=values,
        errors=errors,
        institutions=[i for i in await institution_choices(db, principal) if not i.is_home],
        choices={kind: await source(db, principal) for kind, source in _choice_sources.items()},
        languages=i18n.LANGUAGES,
    )


@get("/reports/subscriptions/{subscription_id:uuid}/edit", name="report_subscription_edit")
async def subscription_edit(
    request: Request[Any, Any, Any],
    db: NamedDependency[AsyncSession],
    principal: NamedDependency[Principal],
    subscription_id: FromPath[uuid.UUID],
) -> Template:
    subscription = await subscriptions.get(db, principal, subscription_id)
    return await _edit_page(request, db, principal, subscription_id, subscription_values(subscription), {}, 200)


@post("/reports/subscriptions/{subscription_id:uuid}", name="report_subscription_update")
async def subscription_update(
    request: Request[Any, Any, Any],
    db: NamedDependency[AsyncSession],
    principal: NamedDependency[Principal],
    subscription_id: FromPath[uuid.UUID],
) -> Response[Any]:
    await subscriptions.get(db, principal, subscription_id)
    form = await form_dict(request)
    kind = str(form.get("kind") or "")
    fields = {k: v for k, v in form.items() if not k.startswith("scope_")} | {"scope_id": form.get(f"scope_{kind}")}
    try:
        data = parse_form(subscriptions.SubscriptionUpdate, fields)
        await subscriptions.update(db, principal, request.app.state.settings, subscription_id, data)
    except ValidationFailed as exc:
        await db.rollback()
        return await _edit_page(request, db, principal, subscription_id, form, exc.errors, 422)
    request.app.state.scheduler.changed()
    return see_other("/reports/subscriptions")


@post("/reports/subscriptions/{subscription_id:uuid}/stop", name="report_subscription_stop")
async def subscription_stop(
    request: Request[Any, Any, Any],
    db: NamedDependency[AsyncSession],
    principal: NamedDependency[Principal],
    subscription_id: FromPath[uuid.UUID],
) -> Response[Any]:
    await subscriptions.stop(db, principal, subscription_id, form_version(await form_dict(request)))
    request.app.state.scheduler.changed()
    return see_other("/reports/subscriptions")


@post("/reports/subscriptions/{subscription_id:uuid}/send", name="report_subscription_send_now")
async def subscription_send_now(
    request: Request[Any, Any, Any],
    db: NamedDependency[AsyncSession],
    principal: NamedDependency[Principal],
    subscription_id: FromPath[uuid.UUID],
) -> Response[Any]:
    """ "Send me one now": rendered and e-mailed beside the requests; the page says it is on its way."""
    settings, worker = request.app.state.settings, request.app.state.reports
    begun = await delivery.begin_send_now(db, principal, settings, subscription_id)
    worker.spawn(delivery.finish_send_now(request.app.state.session_factory, settings, worker.renderer, begun))
    return see_other(f"/reports/subscriptions?sent={begun.run_id}#archive")


@post("/reports/runs/{run_id:uuid}/resend", name="report_resend")
async def resend(
    request: Request[Any, Any, Any], db: NamedDependency[AsyncSession], principal: NamedDependency[Principal], run_id: FromPath[uuid.UUID]
) -> Response[Any]:
    await services.resend(db, principal, request.app.state.settings, request.app.state.session_factory, run_id)
    return see_other("/reports/subscriptions#archive")


@get("/api/v1/report-subscriptions", name="api_report_subscriptions", tags=["reports"])
async def api_subscriptions(
    db: NamedDependency[AsyncSession], principal: NamedDependency[Principal]
) -> list[subscriptions.SubscriptionOut]:
    """Your report subscriptions (an administrator: everyone's)."""
    return await subscriptions.list_subscriptions(db, principal)


@post("/api/v1/report-subscriptions", name="api_report_subscription_create", tags=["reports"])
async def api_subscription_create(
    request: Request[Any, Any, Any],
    db: NamedDependency[AsyncSession],
    principal: NamedDependency[Principal],
    data: JSONBody[subscriptions.SubscriptionIn],
) -> subscriptions.SubscriptionOut:
    """Subscribe to a report: `frequency` monthly (on `day` 1–28), quarterly (on `day` of the quarter's first month) or
    weekly (`day` 0 = Monday), at `at_time` in `time_zone`; each run covers the complete `period_kind` before it."""
    subscription_id = await subscriptions.create(db, principal, request.app.state.settings, data)
    request.app.state.scheduler.changed()
    return await subscriptions.get(db, principal, subscription_id)


@get("/api/v1/report-subscriptions/{subscription_id:uuid}", name="api_report_subscription", tags=["reports"])
async def api_subscription(
    db: NamedDependency[AsyncSession], principal: NamedDependency[Principal], subscription_id: FromPath[uuid.UUID]
) -> subscriptions.SubscriptionOut:
    """One report subscription (its owner and administrators)."""
    return await subscriptions.get(db, principal, subscription_id)


@put("/api/v1/report-subscriptions/{subscription_id:uuid}", name="api_report_subscription_update", tags=["reports"])
async def api_subscription_update(
    request: Request[Any, Any, Any],
    db: NamedDependency[AsyncSession],
    principal: NamedDependency[Principal],
    subscription_id: FromPath[uuid.UUID],
    data: JSONBody[subscriptions.SubscriptionUpdate],
) -> subscriptions.SubscriptionOut:
    """Change a report subscription: report, scope, timetable, language, recipients."""
    await subscriptions.update(db, principal, request.app.state.settings, subscription_id, data)
    request.app.state.scheduler.changed()
    return await subscriptions.get(db, principal, subscription_id)


@post("/api/v1/reports/{run_id:uuid}/resend", name="api_report_resend", tags=["reports"], status_code=200)
async def api_resend(
    request: Request[Any, Any, Any], db: NamedDependency[AsyncSession], principal: NamedDependency[Principal], run_id: FromPath[uuid.UUID]
) -> RunOut:
    """An administrator sends a scheduled run again to all its recipients."""
    await services.resend(db, principal, request.app.state.settings, request.app.state.session_factory, run_id)
    return await services.get_run(db, principal, run_id)


routes += [
    subscriptions_page,
    subscription_edit,
    subscription_update,
    subscription_create,
    subscription_stop,
    subscription_send_now,
    resend,
    api_subscriptions,
    api_subscription_create,
    api_subscription,
    api_subscription_update,
    api_resend,
]
