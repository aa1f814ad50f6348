"""What every HTML controller shares: rendering, query parsing, redirects, Jinja filters."""

import uuid
from datetime import date, datetime
from typing import Annotated, Any
from urllib.parse import urlencode
from zoneinfo import ZoneInfo

from litestar import Request
from litestar.params import QueryParameter
from litestar.response import Redirect, Template

from cooperation.auth.access import ROLE_LABELS, Principal
from cooperation.errors import ServiceError, ValidationFailed
from cooperation.records import MAX_PAGE


def render(request: Request[Any, Any, Any], template: str, *, status_code: int = 200, **context: Any) -> Template:
    principal = request.scope.get("user")
    context.setdefault("principal", principal if isinstance(principal, Principal) else None)
    context.setdefault("role_labels", ROLE_LABELS)
    context.setdefault("errors", {})
    return Template(template_name=template, context=context, status_code=status_code)


def refusal_page(request: Request[Any, Any, Any], exc: ServiceError, back: str) -> Template:
    """A refused change of state (409) explained on a page with a way back; any other error is raised as usual."""
    if exc.status_code != 409:
        raise exc
    return render(request, "error.html", status_code=409, title="This change is not possible", detail=exc.detail, errors={}, back=back)


def see_other(path: str) -> Redirect:
    """After a successful POST: 303, so a reload does not post again."""
    return Redirect(path=path, status_code=303)


def query_int(request: Request[Any, Any, Any], name: str, default: int) -> int:
    raw = request.query_params.get(name)
    if raw in (None, ""):
        return default
    try:
        return int(raw)
    except ValueError as exc:
        raise ValidationFailed({name: f"must be a whole number, not {raw!r}"}) from exc


def query_uuid(request: Request[Any, Any, Any], name: str) -> uuid.UUID | None:
    raw = request.query_params.get(name)
    if not raw:
        return None
    try:
        return uuid.UUID(raw)
    except ValueError as exc:
        raise ValidationFailed({name: "is not a valid identifier"}) from exc


def query_str(request: Request[Any, Any, Any], name: str) -> str | None:
    raw = request.query_params.get(name)
    return raw.strip() if raw and raw.strip() else None


def query_bool(request: Request[Any, Any, Any], name: str) -> bool:
    return request.query_params.get(name) in ("1", "true", "on", "yes")


async def form_dict(request: Request[Any, Any, Any]) -> dict[str, Any]:
    """The posted form; repeated fields become lists."""
    form = await request.form()
    data: dict[str, Any] = {}
    for key in form.keys():  # noqa: SIM118 - FormMultiDict
        values = form.getall(key)
        data[key] = values if len(values) > 1 or key.endswith("[]") else values[0]
    return data


# ---- Jinja filters ------------------------------------------------------------------------------


def fmt_date(value: date | None) -> str:
    return value.isoformat() if value else "—"


def fmt_instant(value: datetime | None, tz: str = "UTC") -> str:
    if value is None:
        return "—"
    try:
        zone = ZoneInfo(tz)
    except Exception:
        zone = ZoneInfo("UTC")
    local = value.astimezone(zone)
    return local.strftime("%Y-%m-%d %H:%M ") + (local.tzname() or "")


def page_url(request: Request[Any, Any, Any], **changes: Any) -> str:
    params = {k: v for k, v in request.query_params.items()}
    for key, value in changes.items():
        if value is None:
            params.pop(key, None)
        else:
            params[key] = str(value)
    return request.url.path + ("?" + urlencode(params) if params else "")


def humanize(value: str | None) -> str:
    return (value or "").replace("_", " ").capitalize()


def fmt_number(value: int | float | None) -> str:
    """Thousands separated, as in the seed article's 140,000 volumes."""
    return "—" if value is None else f"{value:,}"


def size_text(size: int) -> str:
    """A file size as people read it: 820 KiB, 4.2 MiB, 20 MiB."""
    if size < 1024 * 1024:
        return f"{max(1, round(size / 1024))} KiB"
    mib = size / 1048576
    return f"{mib:.0f} MiB" if mib >= 10 or mib.is_integer() else f"{mib:.1f} MiB"


def too_large(what: str, size: int, limit: int) -> str:
    return f"{what} is {size_text(size)}; the limit is {size_text(limit)}"


JINJA_FILTERS = {"date": fmt_date, "instant": fmt_instant, "humanize": humanize, "number": fmt_number, "filesize": size_text}
JINJA_GLOBALS = {"page_url": page_url}


def form_version(form: dict[str, Any]) -> int:
    """The `version` hidden field of an edit form (optimistic locking)."""
    try:
        return int(form.get("version") or 0)
    except ValueError:
        raise ValidationFailed({"version": "must be a whole number"}) from None


# Paging parameters of every JSON list (documented in the OpenAPI reference).
PageNumber = Annotated[int, QueryParameter(ge=1, le=MAX_PAGE, description="Page number, from 1")]
PerPage = Annotated[int, QueryParameter(ge=1, le=100, description="Rows per page (at most 100)")]
