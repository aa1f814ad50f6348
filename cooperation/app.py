"""create_app: the one place that imports every domain and wires them into one application."""

import asyncio
import logging
from collections.abc import AsyncIterator
from typing import Any

from litestar import Litestar, Request, Response, get
from litestar.config.csrf import CSRFConfig
from litestar.datastructures import State
from litestar.di import Provide
from litestar.exceptions import (
    HTTPException,
    NotAuthorizedException,
    PermissionDeniedException,
    ValidationException,
)
from litestar.middleware import DefineMiddleware
from litestar.openapi import OpenAPIConfig
from litestar.plugins.htmx import HTMXPlugin
from litestar.plugins.jinja import JinjaTemplateEngine
from litestar.response import Redirect
from litestar.static_files import create_static_files_router
from litestar.template.config import TemplateConfig
from sqlalchemy import text
from sqlalchemy.exc import IntegrityError
from sqlalchemy.ext.asyncio import AsyncSession

from agreements import wiring as agreements_wiring
from agreements.services import register_measure_source
from cooperation import (
    apidoc,
    calendar,
    comments,
    dashboard,
    edge,
    files,
    followups,
    headers,
    i18n,
    mail,
    portal,
    review,
    setup,
    share,
    webhooks,
)
from cooperation.auth import access, revocation
from cooperation.auth import api as auth_api
from cooperation.auth import views as auth_views
from cooperation.auth.access import Principal
from cooperation.auth.middleware import (
    PUBLIC_OPT,
    REQUEST_SESSION_KEY,
    SIGNED_PREFIX,
    CsrfUnlessBearer,
    EnrollFirst,
    SessionAuthenticationMiddleware,
    ViewingOnly,
)
from cooperation.db import committed, conflicting_field, create_engine, session_factory, session_scope, unavailable
from cooperation.errors import ConflictError, ServiceError
from cooperation.i18n import N_
from cooperation.logs import configure_logging
from cooperation.partners import api as partners_api
from cooperation.partners import dormancy
from cooperation.partners import services as partners_services
from cooperation.partners import views as partners_views
from cooperation.peers import views as peers_views
from cooperation.reports import builders, trends
from cooperation.reports import services as report_services
from cooperation.reports import views as report_views
from cooperation.scheduler import Scheduler
from cooperation.settings import PROJECT_ROOT, Settings
from cooperation.settling import Settlement, settle_first
from cooperation.web import JINJA_FILTERS, JINJA_GLOBALS, conditional, field_label, render, size_text
from exchanges import wiring as exchanges_wiring
from exchanges.expert_services import register_programmes
from programs import wiring as programs_wiring

log = logging.getLogger("cooperation")

API_PREFIX = "/api/v1"
HEALTH_TIMEOUT_SECONDS = 3


def import_all_models() -> None:
    """Every table, for Alembic and for tests that build a schema from the models."""
    import agreements.models  # noqa: F401
    import programs.models  # noqa: F401


async def provide_db(request: Request[Any, Any, Any]) -> AsyncIterator[AsyncSession]:
    """The session the authentication middleware opened for this request; public routes get their own."""
    shared = request.scope.get("state", {}).get(REQUEST_SESSION_KEY)
    if shared is not None:
        yield shared
        return
    async for session in session_scope(request.app.state.session_factory):
        yield session


def provide_principal(request: Request[Any, Any, Any]) -> Principal:
    return request.user  # type: ignore[no-any-return]


FAVICON = PROJECT_ROOT / "static" / "img" / "favicon.ico"


@get("/favicon.ico", opt={PUBLIC_OPT: True}, include_in_schema=False, name="favicon")
async def favicon(request: Request[Any, Any, Any]) -> Response[bytes]:
    """What browsers, feed readers and bookmarks ask for at the root whatever the page says (pages name the SVG)."""
    return conditional(request, FAVICON.read_bytes(), "image/x-icon", {"Cache-Control": "public, max-age=86400"})


@get("/health/live", opt={PUBLIC_OPT: True}, include_in_schema=False, name="health_live")
async def health_live() -> dict[str, str]:
    """The process answers (for an orchestrator's liveness probe: restart it when this fails)."""
    return {"status": "ok"}


@get(["/health", "/health/ready"], opt={PUBLIC_OPT: True}, include_in_schema=False, name="health")
async def health(request: Request[Any, Any, Any]) -> Response[dict[str, str]]:
    """Ready to serve: the database answers. 503 with JSON naming what is down otherwise (a readiness probe takes the
    instance out of the load balancer until it is back), within a few seconds, never an error page."""
    try:
        async with request.app.state.read_session_factory() as session:
            await asyncio.wait_for(session.execute(text("SELECT 1")), HEALTH_TIMEOUT_SECONDS)
    except Exception as exc:  # any failure to reach the database is "down" here, and says which
        log.warning("health: the database does not answer (%s)", type(exc).__name__)
        return Response(
            {"status": "unavailable", "database": "unreachable"}, status_code=503, headers={"Retry-After": "5", "Cache-Control": "no-store"}
        )
    return Response({"status": "ok", "database": "ok"}, headers={"Cache-Control": "no-store"})


# ---- errors: problem+json for the API, friendly pages for people --------------------------------


def _wants_json(request: Request[Any, Any, Any]) -> bool:
    """The API and the requests of paired instances (cooperation/peers) are answered problem+json, not pages."""
    return request.url.path.startswith((API_PREFIX, SIGNED_PREFIX))


def _problem(status: int, title: str, detail: str, slug: str, errors: dict[str, str] | None = None) -> Response[Any]:
    body: dict[str, Any] = {"type": f"https://libcoop.example/problems/{slug}", "title": title, "status": status, "detail": detail}
    if errors:
        body["errors"] = errors
    return Response(content=body, status_code=status, media_type="application/problem+json")


def _page(request: Request[Any, Any, Any], status: int, title: str, detail: str, errors: dict[str, str] | None = None) -> Response[Any]:
    return render(request, "error.html", status_code=status, title=i18n.gettext(title), detail=detail, errors=errors or {})


def choose_language(request: Request[Any, Any, Any]) -> None:
    """The language of this request (i18n.py). The API answers in English unless the client asks (Accept-Language),
    whatever the account's page language: a script gets the same words whoever runs it."""
    settings: Settings = request.app.state.settings
    accept_language = request.headers.get("accept-language")
    if _wants_json(request):
        i18n.activate(i18n.choose(user=None, cookie=None, accept_language=accept_language, default="en"))
        return
    user = request.scope.get("user")
    i18n.activate(
        i18n.choose(
            user=user.language if isinstance(user, Principal) else None,
            cookie=request.cookies.get(i18n.COOKIE),
            accept_language=accept_language,
            default=settings.default_language,
        )
    )


def _validation_errors(exc: ValidationException) -> dict[str, str]:
    errors: dict[str, str] = {}
    for item in exc.extra or []:
        if isinstance(item, dict):
            key = str(item.get("key") or "body").removeprefix("$.")
            errors[key] = str(item.get("message", "is invalid")).split(" - at ")[0]
    return errors


def handle_service_error(request: Request[Any, Any, Any], exc: ServiceError) -> Response[Any]:
    # The message was put in the request's language where it was raised (after before_request chose it).
    if _wants_json(request):
        response = _problem(exc.status_code, exc.title, exc.detail, exc.slug, exc.errors)
    else:
        response = _page(request, exc.status_code, exc.title, exc.detail, exc.errors)
    retry_after = getattr(exc, "retry_after", None)
    if retry_after is not None:
        response.headers["Retry-After"] = str(retry_after)
    return response


def handle_http_error(request: Request[Any, Any, Any], exc: HTTPException) -> Response[Any]:
    choose_language(request)  # a route that does not exist never reached before_request
    status = exc.status_code
    if isinstance(exc, EnrollFirst) and not _wants_json(request):
        return Redirect(path="/account/two-factor", status_code=303)
    if isinstance(exc, NotAuthorizedException) and not _wants_json(request):
        target = request.url.path + (f"?{request.url.query}" if request.url.query else "")
        return Redirect(path=f"/login?next={target}" if request.method == "GET" else "/login", status_code=303)
    if isinstance(exc, ValidationException):
        errors = _validation_errors(exc)
        listed = "; ".join(f"{k} {v}" for k, v in errors.items())
        detail = i18n.gettext("The request is not valid: %(errors)s", errors=listed) if errors else exc.detail
        if _wants_json(request):
            return _problem(400, "Invalid request", detail, "invalid-request", errors)
        return _page(request, 400, N_("Invalid request"), detail, errors)
    titles = {
        401: N_("Sign-in required"),
        403: N_("Not allowed"),
        404: N_("Not found"),
        405: N_("Method not allowed"),
        413: N_("Too large"),
        429: N_("Too many requests"),
    }
    title = titles.get(status, N_("Error"))
    # Litestar's own words for these, in the reader's language; any other detail is the raiser's.
    details = {
        401: N_("Sign in to see this page."),
        404: N_("There is nothing here, or it is not shared with you."),
        405: N_("This address does not accept that kind of request."),
    }
    detail = (
        i18n.gettext(details[status])
        if status in details and exc.detail in ("Not Found", "Unauthorized", "Method Not Allowed", "")
        # Details raised before the request's language was known (the middleware's) are N_-marked: said now.
        else i18n.translations(i18n.current()).gettext(exc.detail)
    )
    if status == 413:
        limit = size_text(request.app.state.settings.upload_max_bytes)
        detail = i18n.gettext(
            "The file is larger than LibCoop accepts: at most %(limit)s per file. Go back to choose a smaller one.", limit=limit
        )
    if isinstance(exc, ViewingOnly):
        detail = i18n.gettext("You are viewing as %(partner)s: nothing can be changed.", partner=exc.label)
    if isinstance(exc, PermissionDeniedException) and "CSRF" in exc.detail:
        detail = i18n.gettext("This form has expired or did not come from LibCoop (CSRF check failed). Reload the page and try again.")
    if _wants_json(request):
        return _problem(status, title, detail, title.lower().replace(" ", "-"))
    return _page(request, status, title, detail)


def handle_integrity_error(request: Request[Any, Any, Any], exc: IntegrityError) -> Response[Any]:
    """A rule the database keeps refused the write — two people saving the same reference at the same moment (the
    services' own checks catch it otherwise): a 409 naming the field; nothing was written."""
    field = conflicting_field(exc)
    if field is not None:
        log.info("unique conflict on %s %s: %s", request.method, request.url.path, field)
        error = ConflictError(
            i18n.gettext(
                "Another record with the same %(field)s was saved at the same moment. Nothing was changed; reload and choose another.",
                field=field_label(field).lower(),
            ),
            errors={field: i18n.gettext("already used by another record")},
        )
    else:
        log.warning("integrity refusal on %s %s: %s", request.method, request.url.path, exc.orig)
        error = ConflictError(
            i18n.gettext("A record this change refers to was changed or removed meanwhile. Nothing was changed; reload and try again.")
        )
    return handle_service_error(request, error)


def handle_unavailable(request: Request[Any, Any, Any], exc: Exception) -> Response[Any]:
    """The database did not answer. Before a commit: 503 with Retry-After, nothing was written. After the commit
    (the read-back failed): the write happened, so the answer says it was saved rather than an error."""
    log.warning("database unavailable on %s %s: %s", request.method, request.url.path, type(exc).__name__)
    if committed(request.scope.get("state", {}).get(REQUEST_SESSION_KEY)):
        detail = i18n.gettext("Saved. Reading it back failed because the database stopped answering; load it again in a moment.")
        if _wants_json(request):
            status = 201 if request.method == "POST" else 200
            return Response({"status": "saved", "detail": detail}, status_code=status, headers={"Retry-After": "5"})
        return _page(request, 200, N_("Saved"), detail)
    detail = i18n.gettext("The database is not answering just now. Nothing was changed; please try again in a few seconds.")
    unavailable_page = _page(request, 503, N_("Unavailable"), detail) if not _wants_json(request) else None
    response = unavailable_page or _problem(503, "Unavailable", detail, "unavailable")
    response.headers["Retry-After"] = "5"
    return response


def handle_unexpected(request: Request[Any, Any, Any], exc: Exception) -> Response[Any]:
    if unavailable(exc):
        return handle_unavailable(request, exc)
    if files.store_unavailable(exc):  # files are written before the rows that name them: nothing was recorded
        log.warning("file store unavailable on %s %s: %s", request.method, request.url.path, type(exc).__name__)
        detail = i18n.gettext("The file store is not answering just now. Nothing was changed; please try again in a few seconds.")
        response = (
            _problem(503, "Unavailable", detail, "unavailable") if _wants_json(request) else _page(request, 503, N_("Unavailable"), detail)
        )
        response.headers["Retry-After"] = "5"
        return response
    log.exception("unhandled error on %s %s", request.method, request.url.path)
    detail = i18n.gettext("Something went wrong on our side. The error was logged; please try again.")
    if _wants_json(request):
        return _problem(500, "Server error", detail, "server-error")
    return _page(request, 500, N_("Server error"), detail)


def create_app(settings: Settings | None = None) -> Litestar:
    settings = settings or Settings.from_env()
    settings.check()
    configure_logging(settings)
    engine = create_engine(
        settings.database_url, **({} if settings.database_url.startswith("sqlite") else {"pool_size": settings.db_pool_size})
    )
    factory = session_factory(engine)
    read_factory = session_factory(engine.execution_options(isolation_level="AUTOCOMMIT"))

    for source in [*agreements_wiring.sharing_sources, *exchanges_wiring.sharing_sources, *programs_wiring.sharing_sources]:
        partners_services.register_sharing_source(source)
    for domain in (agreements_wiring, exchanges_wiring, programs_wiring):
        for activity in getattr(domain, "partner_activity", []):
            dormancy.register_activity(activity)
        for bound in getattr(domain, "partners_bound", []):
            dormancy.register_bound(bound)
    dormancy.register_activity(comments.partner_activity)
    dormancy.register_activity(followups.partner_activity)
    owners = {**agreements_wiring.attachment_owners, **exchanges_wiring.attachment_owners, **programs_wiring.attachment_owners}
    for kind, visible_ids in {**agreements_wiring.record_kinds, **exchanges_wiring.record_kinds, **programs_wiring.record_kinds}.items():
        access.register_kind(kind, visible_ids)
    for kind, resolver in owners.items():
        files.register_owner(kind, resolver)
    for events in [*agreements_wiring.calendar_sources, *exchanges_wiring.calendar_sources, followups.calendar_events]:
        calendar.register_source(events)
    for panel in [
        *agreements_wiring.dashboard_panels,
        *exchanges_wiring.dashboard_panels,
        *programs_wiring.dashboard_panels,
        followups.dashboard_panel,
        report_views.dashboard_panel,
    ]:
        dashboard.register_panel(panel)
    domains = (agreements_wiring, exchanges_wiring, programs_wiring)
    for domain in domains:
        for figures in getattr(domain, "year_figures", []):
            dashboard.register_figures(figures)
        for name, section in getattr(domain, "portfolio_sections", {}).items():
            builders.register_portfolio_section(name, section)
        for source in getattr(domain, "key_figures", []):
            trends.register(source)
        for decider in getattr(domain, "decisions", []):
            trends.register_decisions(decider)
        for name, section in getattr(domain, "partner_sections", {}).items():
            builders.register_partner_section(name, section)
        for kind, report in getattr(domain, "record_reports", {}).items():
            builders.register_record_report(kind, report)
        for kind, period_report in getattr(domain, "period_reports", {}).items():
            builders.register_period_report(kind, period_report)
        for section in getattr(domain, "portal_sections", []):
            portal.register_section(section)
        for source in getattr(domain, "review_sources", []):
            review.register_source(source)
        for shareable in getattr(domain, "shareables", []):
            share.register(shareable)
        for kind, source in getattr(domain, "report_choices", {}).items():
            report_views.register_choices(kind, source)
        for first_day in getattr(domain, "first_days", []):
            report_views.register_first_day(first_day)
    register_programmes(programs_wiring.exchange_hooks)
    for measure in [*programs_wiring.commitment_measures, *exchanges_wiring.commitment_measures]:
        register_measure_source(measure)

    def configure_jinja(engine_: JinjaTemplateEngine) -> None:
        engine_.engine.filters.update(JINJA_FILTERS, with_nonce=headers.with_nonce)
        engine_.engine.globals.update(JINJA_GLOBALS)
        engine_.engine.globals["settings"] = settings
        engine_.engine.add_extension("jinja2.ext.i18n")
        engine_.engine.install_gettext_callables(  # type: ignore[attr-defined]
            i18n.template_gettext, i18n.template_ngettext, newstyle=True, pgettext=i18n.template_pgettext
        )
        engine_.engine.globals.update(language=i18n.current, html_lang=lambda: i18n.html_lang(i18n.current()), language_names=i18n.NAMES)

    async def before_request(request: Request[Any, Any, Any]) -> None:
        """The request's language is chosen (i18n.py); then bad input is refused at the edge, in that language."""
        choose_language(request)
        await edge.check_input(request)

    reports = report_services.ReportWorker(settings, factory)
    settlement = Settlement(factory, settings.default_time_zone, agreements_wiring.settle_steps)
    daily_jobs = [
        ("settle-statuses", settlement.daily_job),
        *agreements_wiring.daily_jobs,
        ("follow-ups", followups.send_due_reminders),
        ("dormant-partners", dormancy.send_monthly_digest),
        *programs_wiring.daily_jobs,
    ]
    scheduler = Scheduler(settings, engine, factory, reports.renderer, daily_jobs)

    accounts_listener = revocation.Listener(engine)

    async def start_scheduler() -> None:
        if settings.scheduler_enabled:  # the process that wins the election schedules; the others stand by
            scheduler.start()

    async def listen_for_account_changes() -> None:
        accounts_listener.start()

    async def mark_interrupted_reports() -> None:
        async with factory() as session:
            await report_services.fail_interrupted(session, settings)

    later = mail.Later()

    async def close_engine() -> None:
        await later.drain()
        await accounts_listener.stop()
        await scheduler.stop()
        await reports.drain()
        reports.close()
        await engine.dispose()

    static = create_static_files_router(path="/static", directories=[PROJECT_ROOT / "static"], opt={PUBLIC_OPT: True}, name="static")
    route_handlers: list[Any] = [
        health,
        health_live,
        favicon,
        static,
        *auth_views.routes,
        *auth_api.routes,
        *dashboard.routes,
        *files.routes,
        *comments.routes,
        *review.routes,
        *share.routes,
        *followups.routes,
        *calendar.routes,
        *portal.routes,
        *peers_views.routes,
        *webhooks.routes,
        *setup.routes,
        *partners_views.routes,
        *partners_api.routes,
        *agreements_wiring.routes,
        *exchanges_wiring.routes,
        *programs_wiring.routes,
        *report_views.routes,
    ]
    apidoc.document(route_handlers, API_PREFIX)
    application = Litestar(
        route_handlers=route_handlers,
        dependencies={"db": Provide(provide_db), "principal": Provide(provide_principal, sync_to_thread=False)},
        before_request=before_request,
        middleware=[
            settle_first(settlement),
            DefineMiddleware(SessionAuthenticationMiddleware, exclude_from_auth_key=PUBLIC_OPT),
            DefineMiddleware(
                CsrfUnlessBearer,
                config=CSRFConfig(
                    secret=settings.secret_key,
                    cookie_name="coop_csrf",
                    header_name="x-csrf-token",
                    cookie_secure=settings.secure_cookies,
                    cookie_samesite="lax",
                ),
            ),
        ],
        template_config=TemplateConfig(directory=PROJECT_ROOT / "templates", engine=JinjaTemplateEngine, engine_callback=configure_jinja),
        plugins=[HTMXPlugin()],
        openapi_config=OpenAPIConfig(
            title="LibCoop API",
            version="1.0",
            description=apidoc.DESCRIPTION,
            path=f"{API_PREFIX}/schema",
            use_handler_docstrings=True,
            render_plugins=[apidoc.ReferencePage(js_url="/static/vendor/rapidoc-min.js", path="/")],
        ),
        exception_handlers={
            ServiceError: handle_service_error,
            IntegrityError: handle_integrity_error,
            HTTPException: handle_http_error,
            Exception: handle_unexpected,
        },
        state=State(
            {
                "settings": settings,
                "engine": engine,
                "session_factory": factory,
                "read_session_factory": read_factory,
                "reports": reports,
                "scheduler": scheduler,
                "settlement": settlement,
                "later": later,
            }
        ),
        on_startup=[mark_interrupted_reports, start_scheduler, listen_for_account_changes],
        on_shutdown=[close_engine],
        # Room for a file up to twice the limit, so that the form comes back naming the limit with what was typed
        # kept; beyond that the 413 page names the limit.
        request_max_body_size=2 * settings.upload_max_bytes + 1024 * 1024,
        before_send=[headers.security_headers(hsts=settings.is_production, reference_path=f"{API_PREFIX}/schema")],
        logging_config=None,
        debug=False,
    )
    # Before routing, which Litestar's middleware comes after: a request for a host we do not answer for is refused
    # whatever its path, and HEAD reaches every GET route (the router alone would answer it 405).
    application.asgi_handler = edge.known_hosts(settings.hosts)(edge.head_as_get(application.asgi_handler))
    return application


def demo_loaders() -> list[Any]:
    return [*agreements_wiring.demo_loaders, *exchanges_wiring.demo_loaders, *programs_wiring.demo_loaders]


def scale_loaders() -> list[Any]:
    return [*agreements_wiring.scale_loaders]
