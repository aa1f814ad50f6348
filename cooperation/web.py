"""What every HTML controller shares: rendering, query parsing, redirects, Jinja filters."""

import email.utils
import hashlib
import re
import uuid
from datetime import UTC, date, datetime
from typing import Annotated, Any
from urllib.parse import urlencode, urlparse

from litestar import Request, Response
from litestar.params import QueryParameter
from litestar.response import Redirect, Template

from cooperation import i18n, versions
from cooperation.auth.access import ROLE_LABELS, Principal
from cooperation.errors import ServiceError, ValidationFailed
from cooperation.i18n import N_
from cooperation.records import MAX_PAGE


def render(request: Request[Any, Any, Any], template: str, *, status_code: int = 200, **context: Any) -> Template:
    principal = request.scope.get("user")
    context.setdefault("principal", principal if isinstance(principal, Principal) else None)
    context.setdefault("role_labels", {role: i18n.gettext(label) for role, label in ROLE_LABELS.items()})
    context.setdefault("errors", {})
    return Template(template_name=template, context=context, status_code=status_code)


def refusal_page(request: Request[Any, Any, Any], exc: ServiceError, back: str) -> Template:
    """A refused change of state (409) explained on a page with a way back; any other error is raised as usual."""
    if exc.status_code != 409:
        raise exc
    return render(
        request, "error.html", status_code=409, title=i18n.gettext("This change is not possible"), detail=exc.detail, errors={}, back=back
    )


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
        raise ValidationFailed({name: i18n.gettext("must be a whole number, not %(value)s", value=repr(raw))}) from exc


def query_uuid(request: Request[Any, Any, Any], name: str) -> uuid.UUID | None:
    raw = request.query_params.get(name)
    if not raw:
        return None
    try:
        return uuid.UUID(raw)
    except ValueError as exc:
        raise ValidationFailed({name: i18n.gettext("is not a valid identifier")}) from exc


def query_str(request: Request[Any, Any, Any], name: str) -> str | None:
    raw = request.query_params.get(name)
    return raw.strip() if raw and raw.strip() else None


def query_bool(request: Request[Any, Any, Any], name: str) -> bool:
    return request.query_params.get(name) in ("1", "true", "on", "yes")


def conditional(
    request: Request[Any, Any, Any], body: bytes, media_type: str, headers: dict[str, str], last_modified: datetime | None = None
) -> Response[bytes]:
    """A feed or document that readers poll (the portal's Atom feed, calendar feeds, the well-known document), with
    its ETag (and Last-Modified when known); a reader who has it already gets 304 and no body (RFC 9110 §13)."""
    tag = '"' + hashlib.sha256(body).hexdigest()[:32] + '"'
    headers = {**headers, "ETag": tag}
    if last_modified is not None:
        headers["Last-Modified"] = email.utils.format_datetime(last_modified.astimezone(UTC).replace(microsecond=0), usegmt=True)
    asked = request.headers.get("if-none-match")
    if asked is not None:
        fresh = asked.strip() == "*" or tag in {t.strip().removeprefix("W/") for t in asked.split(",")}
    else:
        fresh = last_modified is not None and _not_modified_since(request.headers.get("if-modified-since"), last_modified)
    if fresh:
        return Response(b"", status_code=304, headers=headers)
    return Response(body, media_type=media_type, headers=headers)


def _not_modified_since(value: str | None, last_modified: datetime) -> bool:
    try:
        since = email.utils.parsedate_to_datetime(value) if value else None
    except (TypeError, ValueError):
        return False  # an odd date is no condition (RFC 9110 §13.1.3)
    return since is not None and since.tzinfo is not None and last_modified.replace(microsecond=0) <= since


def safe_next(target: str | None) -> str:
    """Only same-site paths: an attacker cannot use the sign-in page to redirect elsewhere."""
    if not target:
        return "/"
    parsed = urlparse(target)
    if parsed.scheme or parsed.netloc or not target.startswith("/") or target.startswith("//"):
        return "/"
    return target


def public_base(request: Request[Any, Any, Any]) -> str:
    """Where absolute links point (e-mails, feeds, calendars, the well-known document): COOP_BASE_URL, required in
    production; in development, the address the request came to."""
    return request.app.state.settings.base_url or str(request.base_url).rstrip("/")


async def form_dict(request: Request[Any, Any, Any]) -> dict[str, Any]:
    """The posted form; repeated fields become lists."""
    form = await request.form()
    data: dict[str, Any] = {}
    for key in form.keys():  # noqa: SIM118 - FormMultiDict
        values = form.getall(key)
        data[key] = values if len(values) > 1 or key.endswith("[]") else values[0]
    return data


# ---- Jinja filters ------------------------------------------------------------------------------
# Dates, numbers and stored values in the reader's language (i18n.py); the request chose it.


def fmt_date(value: date | None) -> str:
    return i18n.format_day(value)


def fmt_instant(value: datetime | None, tz: str = "UTC") -> str:
    return i18n.format_instant(value, tz)


def page_url(request: Request[Any, Any, Any], **changes: Any) -> str:
    params = {k: v for k, v in request.query_params.items()}
    for key, value in changes.items():
        if value is None:
            params.pop(key, None)
        else:
            params[key] = str(value)
    return request.url.path + ("?" + urlencode(params) if params else "")


def fmt_number(value: int | float | None) -> str:
    """Thousands separated as the language does: 140,000 · 140 000 · 140.000."""
    return i18n.format_number(value)


def country(code: str | None) -> str:
    return i18n.country_names(i18n.current()).get(code or "", code or "—")


def size_text(size: int) -> str:
    """A file size as people read it: 820 KiB, 4.2 MiB, 20 MiB."""
    if size < 1024 * 1024:
        return f"{max(1, round(size / 1024))} KiB"
    mib = size / 1048576
    return f"{mib:.0f} MiB" if mib >= 10 or mib.is_integer() else f"{mib:.1f} MiB"


def too_large(what: str, size: int, limit: int) -> str:
    return i18n.gettext("%(what)s is %(size)s; the limit is %(limit)s", what=what, size=size_text(size), limit=size_text(limit))


# The names of the fields people fill in, as form errors, "what changed" lists and histories name them.
FIELD_LABELS = {
    "active": N_("Active"),
    "admin_email": N_("E-mail"),
    "admin_name": N_("Name"),
    "admin_password": N_("Password"),
    "agenda": N_("Agenda"),
    "agreement_id": N_("Agreement"),
    "agreement_ids": N_("Agreements"),
    "allowed_email_domains": N_("E-mail domains"),
    "arrangement_id": N_("Arrangement"),
    "as_of": N_("As of"),
    "at_time": N_("At"),
    "auto_renew": N_("Renews automatically"),
    "basis": N_("Basis"),
    "body": N_("Comment"),
    "budget_amount": N_("Budget"),
    "budget_currency": N_("Currency"),
    "caption": N_("Caption"),
    "carrier": N_("Carrier"),
    "category": N_("Category"),
    "city": N_("City"),
    "client_id": N_("Client id"),
    "client_secret": N_("Client secret"),
    "code": N_("Code"),
    "comment": N_("Comment"),
    "commitments": N_("Commitments"),
    "commitment_id": N_("Commitment"),
    "commitment_ids": N_("Commitments"),
    "commitment_unit": N_("Unit"),
    "confidentiality": N_("Confidentiality"),
    "confirm_over_quota": N_("Quota"),
    "confirm_overlaps": N_("Overlapping visits"),
    "consortium_area": N_("Where"),
    "consortium_size": N_("Institutions in the consortium"),
    "copies": N_("Copies"),
    "correction_note": N_("Correction note"),
    "country": N_("Country"),
    "csv": N_("CSV file"),
    "currency": N_("Currency"),
    "current_password": N_("Current password"),
    "custodian": N_("Custodian"),
    "customs_document": N_("Customs document"),
    "day": N_("Day"),
    "days": N_("Days"),
    "decision": N_("Decision"),
    "default_role": N_("Default role"),
    "delegation": N_("Delegation"),
    "department": N_("Department"),
    "department_at_time": N_("Department at the time"),
    "description": N_("Description"),
    "direction": N_("Direction"),
    "disposition": N_("Disposition"),
    "disposition_note": N_("Note"),
    "disposition_on": N_("Since"),
    "due_on": N_("Due on"),
    "effective_on": N_("In force from"),
    "email": N_("E-mail"),
    "ends_at": N_("To"),
    "ends_on": N_("To"),
    "estimated_value": N_("Estimated value"),
    "expert_person_id": N_("Expert"),
    "exchange_id": N_("Request"),
    "expires_in_days": N_("Valid for (days)"),
    "expires_on": N_("Expires on"),
    "field_of_work": N_("Field of work"),
    "file": N_("File"),
    "formats": N_("Formats"),
    "frequency": N_("How often it is sent"),
    "funding": N_("Funding"),
    "funding_amount": N_("Amount"),
    "funding_currency": N_("Currency"),
    "gifts": N_("Gifts"),
    "given_on": N_("Date"),
    "giver_person_id": N_("Given by"),
    "home_code": N_("Code"),
    "home_name": N_("Name in English"),
    "home_name_native": N_("Name in its own language"),
    "host": N_("Hosts"),
    "host_institution_id": N_("Host institution"),
    "identifier": N_("ISBN or ISSN"),
    "images": N_("Images"),
    "institution_id": N_("Institution"),
    "institution_ids": N_("Participating institutions"),
    "issuer": N_("Issuer"),
    "items": N_("Item"),
    "kind": N_("Kind"),
    "language": N_("Language"),
    "languages": N_("Languages"),
    "lead_institution_id": N_("Lead institution"),
    "location": N_("Location"),
    "max_per_year": N_("At most, per year"),
    "members": N_("Delegation"),
    "milestones": N_("Milestones"),
    "minimal_value": N_("Of minimal value"),
    "name": N_("Name"),
    "name_native": N_("Name in its own script"),
    "note": N_("Note"),
    "notes": N_("Notes"),
    "notice_period_days": N_("Notice period (days)"),
    "on": N_("Date"),
    "outcome": N_("What was learned or transferred"),
    "outcomes": N_("What was agreed"),
    "participants": N_("Participants"),
    "parties": N_("Parties"),
    "partner_institution_id": N_("Partner"),
    "password": N_("Password"),
    "peer_id": N_("Partner's instance"),
    "period": N_("Period"),
    "period_kind": N_("Covering"),
    "person_id": N_("Person"),
    "phone": N_("Phone"),
    "platform_url": N_("Platform address"),
    "position": N_("Position"),
    "position_at_time": N_("Position at the time"),
    "prevailing_language": N_("Prevailing language"),
    "presenters": N_("Presenters"),
    "programme_id": N_("Programme"),
    "progress": N_("Progress"),
    "purpose": N_("Purpose"),
    "quotas": N_("Yearly quotas"),
    "recipient_emails": N_("Recipients"),
    "recipient_person_id": N_("Received by"),
    "reciprocal_gift_id": N_("The gift it answers, or that answered it"),
    "reference": N_("Reference"),
    "renewal_term_months": N_("Renewal term (months)"),
    "report": N_("Report"),
    "requested_by": N_("At whose request"),
    "responsible_institution_id": N_("Institution responsible"),
    "responsible_person_id": N_("Person"),
    "review_on": N_("Review on"),
    "role": N_("Role"),
    "role_claim": N_("Claim with groups or roles"),
    "role_mapping": N_("Role mapping"),
    "scope": N_("Access"),
    "scope_id": N_("Record"),
    "scope_tags": N_("Scope"),
    "scopes": N_("Scopes"),
    "series": N_("Series"),
    "sha256": N_("Conditions' hash"),
    "shipped_on": N_("Date"),
    "side": N_("Side"),
    "signatory_name": N_("Signatory"),
    "signatory_title": N_("Signatory's title"),
    "signed_on": N_("Signed on"),
    "stale_after_days": N_("Flag a participant silent for more than (days)"),
    "starts_at": N_("From"),
    "starts_on": N_("From"),
    "status": N_("Status"),
    "subjects": N_("Subjects"),
    "summary": N_("Summary"),
    "target_images": N_("Target images"),
    "target_titles": N_("Target titles"),
    "target_volumes": N_("Target volumes"),
    "text": N_("Text"),
    "texts": N_("Signed texts"),
    "theme": N_("Theme"),
    "time_zone": N_("Time zone"),
    "title": N_("Title"),
    "title_native": N_("Title in another script"),
    "titles": N_("Titles"),
    "to": N_("Status"),
    "topics": N_("Topics discussed"),
    "tracking_number": N_("Tracking number"),
    "unit": N_("Unit"),
    "user_id": N_("Account"),
    "valuation": N_("How the value was set"),
    "value": N_("Value of one copy"),
    "venue": N_("Venue"),
    "version": N_("Version"),
    "visit_id": N_("Visit"),
    "volumes": N_("Volumes"),
    "website": N_("Website"),
    "year": N_("Year"),
    "yearly_target": N_("Yearly target"),
}


def field_label(name: str | None) -> str:
    """A form field as people call it: 'expires_on' → Expires on; 'parties.1.signed_on' → Parties 2 › Signed on."""
    if not name:
        return ""
    if (line := re.fullmatch(r"line (\d+)", str(name))) is not None:  # a CSV file's line
        return i18n.gettext("line %(number)s", number=line.group(1))
    if (version := re.fullmatch(r"translations?[.-](\w+?)(?:-(title|summary))?", str(name))) is not None:  # a language version
        language = i18n.NAMES.get(version.group(1), version.group(1))
        return f"{i18n.gettext(FIELD_LABELS[version.group(2)])} · {language}" if version.group(2) else language
    words: list[str] = []
    for part in str(name).split("."):
        if part.isdigit():
            words[-1:] = [f"{words[-1]} {int(part) + 1}"] if words else [str(int(part) + 1)]
        elif part in FIELD_LABELS:
            words.append(i18n.gettext(FIELD_LABELS[part]))
        else:
            words.append(part.replace("_", " "))
    return " › ".join(words)


JINJA_FILTERS = {
    "date": fmt_date,
    "instant": fmt_instant,
    "humanize": i18n.label,
    "as_recorded": i18n.as_recorded,
    "number": fmt_number,
    "percent": i18n.format_percent,
    "money": i18n.format_money,
    "country": country,
    "filesize": size_text,
    "field_label": field_label,
    "in_language": versions.in_language,
    "language_name": i18n.language_name,
}
JINJA_GLOBALS = {"page_url": page_url, "dates": i18n.format_days, "month_name": i18n.format_month, "weekday_names": i18n.weekday_names}


def form_version(form: dict[str, Any]) -> int:
    """The `version` hidden field of an edit form (optimistic locking)."""
    try:
        return int(form.get("version") or 0)
    except ValueError:
        raise ValidationFailed({"version": i18n.gettext("must be a whole number")}) from None


# Paging parameters of every JSON list (documented in the OpenAPI reference).
PageNumber = Annotated[int, QueryParameter(ge=1, le=MAX_PAGE, description="Page number, from 1")]
PerPage = Annotated[int, QueryParameter(ge=1, le=100, description="Rows per page (at most 100)")]
