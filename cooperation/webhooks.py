"""Outbound webhooks (issue 16): a library's other systems (its website, its document management) hear of changes.

An administrator registers an address and the kinds of event it wants (agreement, visit, expert exchange, project
progress, report ready), on behalf of an account: a webhook hears only of records that account may see, so a partner's
integration account never learns of another partner's visit. Events come from the audit trail, which every write
already records in its own transaction (a change committed is a change announced; a change rolled back, never).

Deliveries follow the Standard Webhooks specification (the `standardwebhooks` package): `webhook-id`,
`webhook-timestamp` and `webhook-signature` (HMAC-SHA256 with the webhook's secret, shown once). A failed delivery is
tried again after 30 s, 1, 2, 4… minutes, for a day at most; the page shows each webhook's last error.
"""

import base64
import json
import secrets
import uuid
from datetime import datetime, timedelta
from typing import Any

import httpx
from litestar import Request, Response, get, post
from litestar.di import NamedDependency
from litestar.params import FromPath
from litestar.response import Template
from sqlalchemy import JSON, UniqueConstraint, select, update
from sqlalchemy.exc import IntegrityError
from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker
from sqlmodel import Field, SQLModel
from standardwebhooks.webhooks import Webhook as Signer

from cooperation import audit, i18n
from cooperation.auth import crypto
from cooperation.auth.access import Principal, may_see, require_admin
from cooperation.auth.models import User
from cooperation.auth.services import principal_of
from cooperation.db import UTCDateTime, new_id, table, utcnow
from cooperation.errors import NotFoundError, ValidationFailed
from cooperation.i18n import N_
from cooperation.records import RecordBase
from cooperation.reports.models import ReportRun
from cooperation.settings import Settings
from cooperation.web import form_dict, render, see_other

SECRET_PURPOSE = "libcoop/webhook-secret/v1"
# Audit entity type → (event kind, the record kind access.may_see knows, the page's path)
KINDS: dict[str, tuple[str, str | None, str]] = {
    "agreement": ("agreement", "agreement", "/agreements/{id}"),
    "visit": ("visit", "visit", "/visits/{id}"),
    "expert_exchange": ("exchange", "exchange", "/exchanges/{id}"),
    "project": ("project_progress", "project", "/projects/{id}"),
    "report": ("report", None, "/reports/runs/{id}"),
}
EVENT_LABELS = {
    "agreement": N_("Agreements"),
    "visit": N_("Visits"),
    "exchange": N_("Expert exchanges"),
    "project_progress": N_("Project progress"),
    "report": N_("Reports ready"),
}
PROGRESS_ACTIONS = ("report_progress", "import_progress")  # of a project: what "project progress" means
LOOK_BACK = timedelta(hours=1)  # events committed late (a long transaction) are still found
MAX_AGE = timedelta(days=1)
TIMEOUT = httpx.Timeout(10.0, connect=5.0)
BATCH = 100


class WebhookEndpoint(RecordBase, table=True):
    __tablename__ = "webhook"

    url: str = Field(max_length=500)
    kinds: list[str] = Field(default_factory=list, sa_type=JSON)
    owner_id: uuid.UUID = Field(foreign_key="app_user.id", index=True)  # it hears what this account may see
    secret: str = Field(max_length=500)  # Fernet token of the whsec_… secret
    active: bool = True
    last_error: str | None = Field(default=None, max_length=500)
    last_delivered_at: datetime | None = Field(default=None, sa_type=UTCDateTime, nullable=True)


class WebhookDelivery(SQLModel, table=True):
    """One event for one webhook: made once (the unique pair), sent until it is received or a day has passed."""

    __tablename__ = "webhook_delivery"
    __table_args__ = (UniqueConstraint("webhook_id", "event_id", name="uq_webhook_delivery"),)

    id: uuid.UUID = Field(default_factory=new_id, primary_key=True)
    webhook_id: uuid.UUID = Field(foreign_key="webhook.id", index=True)
    event_id: uuid.UUID = Field(foreign_key="audit_event.id")
    event_type: str = Field(max_length=60)
    payload: dict[str, Any] = Field(default_factory=dict, sa_type=JSON)
    status: str = Field(default="pending", max_length=10, index=True)  # pending / delivered / failed
    attempts: int = 0
    next_attempt_at: datetime = Field(default_factory=utcnow, sa_type=UTCDateTime)
    last_error: str | None = Field(default=None, max_length=500)
    created_at: datetime = Field(default_factory=utcnow, sa_type=UTCDateTime)
    delivered_at: datetime | None = Field(default=None, sa_type=UTCDateTime, nullable=True)


i18n.register_labels({"delivered": N_("Delivered")})
W, D = table(WebhookEndpoint).c, table(WebhookDelivery).c
E = table(audit.AuditEvent).c


def _event_type(kind: str, action: str) -> str:
    words = {"create": "created", "update": "updated", "transition": "status_changed", "archive": "archived", "restore": "restored"}
    return f"{kind}.{words.get(action, action)}"


async def create_webhook(
    session: AsyncSession, principal: Principal, settings: Settings, url: str, kinds: list[str], owner_id: uuid.UUID
) -> str:
    """Register an address; returns its secret (whsec_…), shown once."""
    require_admin(principal, N_("manage webhooks"))
    errors: dict[str, str] = {}
    url = url.strip()
    if not (url.startswith(("https://", "http://")) and len(url) <= 500 and " " not in url):
        errors["url"] = i18n.gettext("give the address that receives the events, such as https://www.nlv.gov.vn/libcoop-events")
    chosen = [k for k in EVENT_LABELS if k in kinds]
    if not chosen:
        errors["kinds"] = i18n.gettext("choose at least one kind of event")
    owner = await session.get(User, owner_id)
    if owner is None or not owner.active:
        errors["owner_id"] = i18n.gettext("choose the account whose view of the records the webhook gets")
    if errors:
        raise ValidationFailed(errors)
    secret = "whsec_" + base64.b64encode(secrets.token_bytes(32)).decode()
    webhook = WebhookEndpoint(
        url=url, kinds=chosen, owner_id=owner_id, secret=crypto.encrypt(settings.secret_key, secret, purpose=SECRET_PURPOSE)
    )
    session.add(webhook)
    await session.flush()
    audit.record(session, principal, "create", "webhook", webhook.id, summary=f"Webhook {url} for {', '.join(chosen)}")
    await session.commit()
    return secret


async def set_active(session: AsyncSession, principal: Principal, webhook_id: uuid.UUID, active: bool) -> None:
    require_admin(principal, N_("manage webhooks"))
    done = await session.execute(
        update(WebhookEndpoint).where(W.id == webhook_id, W.archived_at.is_(None)).values(active=active, updated_at=utcnow())
    )
    if done.rowcount != 1:  # type: ignore[attr-defined]
        raise NotFoundError("webhook")
    audit.record(session, principal, "update", "webhook", webhook_id, summary="Webhook " + ("resumed" if active else "paused"))
    await session.commit()


async def fan_out(session: AsyncSession, settings: Settings, base_url: str, *, now: datetime | None = None) -> int:
    """Make the deliveries of the events each active webhook has not had yet (each once: the unique pair). Returns
    how many were made."""
    now = now or utcnow()
    # Plain rows, not objects: a delivery another scheduler made first rolls back, and that would expire objects.
    hooks = (
        await session.execute(select(W.id, W.owner_id, W.kinds, W.created_at).where(W.active.is_(True), W.archived_at.is_(None)))
    ).all()
    U = table(User).c
    listening = select(User).where(U.id.in_({h.owner_id for h in hooks}), U.active.is_(True))
    owners = {u.id: principal_of(u) for u in (await session.execute(listening)).scalars()}
    made = 0
    for hook in hooks:
        principal = owners.get(hook.owner_id)
        if principal is None:
            continue
        types = [t for t, (kind, _, _) in KINDS.items() if kind in hook.kinds]
        already = select(D.event_id).where(D.webhook_id == hook.id)
        events = (
            await session.execute(
                select(E.id, E.entity_type, E.entity_id, E.action, E.occurred_at, E.changes)
                .where(E.entity_type.in_(types), E.occurred_at >= max(hook.created_at, now - LOOK_BACK), E.id.not_in(already))
                .order_by(E.occurred_at)
                .limit(BATCH)
            )
        ).all()
        for event in events:
            kind, record_kind, path = KINDS[event.entity_type]
            if event.entity_id is None or (kind == "project_progress" and event.action not in PROGRESS_ACTIONS):
                continue
            if not await _may_hear(session, principal, event.entity_type, record_kind, event.entity_id):
                continue  # never a word of a record the webhook's account may not see
            if not principal.reads_everything and _department_piece(event.changes):
                continue  # nor of a comment, document or photo kept for the department
            payload = {
                "type": _event_type(kind, event.action),
                "timestamp": event.occurred_at.isoformat(),
                "data": {
                    "id": str(event.entity_id),
                    "kind": kind,
                    "action": event.action,
                    "url": base_url + path.format(id=event.entity_id),
                },
            }
            session.add(WebhookDelivery(webhook_id=hook.id, event_id=event.id, event_type=payload["type"], payload=payload))
            try:
                await session.commit()
                made += 1
            except IntegrityError:  # another scheduler made it first
                await session.rollback()
    return made


def _department_piece(changes: dict[str, Any] | None) -> bool:
    """The event wrote or moved a piece whose audience is (now) the department's only: pieces audit their audience."""
    audience = (changes or {}).get("audience")
    return isinstance(audience, list) and bool(audience) and audience[-1] == "department"


async def _may_hear(session: AsyncSession, principal: Principal, entity_type: str, record_kind: str | None, record_id: uuid.UUID) -> bool:
    if entity_type == "report":  # a report run is its requester's (and the administrators')
        requester = await session.scalar(select(table(ReportRun).c.requested_by_id).where(table(ReportRun).c.id == record_id))
        return principal.is_admin or requester == principal.user_id
    assert record_kind is not None
    return bool(await session.scalar(select(may_see(principal, record_kind, record_id))))


async def deliver_due(
    factory: async_sessionmaker[AsyncSession], settings: Settings, *, now: datetime | None = None, client: httpx.AsyncClient | None = None
) -> int:
    """Send the deliveries that are due; returns how many were received. Each is tried again with back-off on
    failure, and marked failed after a day."""
    now = now or utcnow()
    received = 0
    async with factory() as session:
        due = (
            await session.execute(
                select(WebhookDelivery, W.url, W.secret)
                .join(table(WebhookEndpoint), W.id == D.webhook_id)
                .where(D.status == "pending", D.next_attempt_at <= now, W.active.is_(True))
                .order_by(D.next_attempt_at)
                .limit(BATCH)
            )
        ).all()
        own = client is None
        http = client or httpx.AsyncClient(timeout=TIMEOUT, follow_redirects=False, trust_env=False)
        try:
            for delivery, url, sealed in due:
                body = json.dumps(delivery.payload, ensure_ascii=False)
                signer = Signer(crypto.decrypt(settings.secret_key, sealed, purpose=SECRET_PURPOSE))
                message_id = f"msg_{delivery.id.hex}"  # the same on every attempt: the receiver can drop duplicates
                headers = {
                    "content-type": "application/json",
                    "webhook-id": message_id,
                    "webhook-timestamp": str(int(now.timestamp())),
                    "webhook-signature": signer.sign(message_id, now, body),
                }
                error = None
                try:
                    answer = await http.post(url, content=body.encode(), headers=headers)
                    if not 200 <= answer.status_code < 300:
                        error = i18n.gettext("answered %(status)s", status=answer.status_code)
                except httpx.HTTPError as exc:
                    error = i18n.gettext("not reached: %(error)s", error=type(exc).__name__)
                delivery.attempts += 1
                if error is None:
                    delivery.status, delivery.delivered_at, delivery.last_error = "delivered", now, None
                    await session.execute(
                        update(WebhookEndpoint).where(W.id == delivery.webhook_id).values(last_delivered_at=now, last_error=None)
                    )
                    received += 1
                else:
                    delivery.last_error = error[:500]
                    wait = timedelta(seconds=30 * 2 ** (delivery.attempts - 1))
                    if now + wait - delivery.created_at > MAX_AGE:
                        delivery.status = "failed"
                    delivery.next_attempt_at = now + wait
                    await session.execute(update(WebhookEndpoint).where(W.id == delivery.webhook_id).values(last_error=error[:500]))
            await session.commit()
        finally:
            if own:
                await http.aclose()
    return received


async def run(factory: async_sessionmaker[AsyncSession], settings: Settings) -> None:
    """One round, for the scheduler's poll: new events fanned out, due deliveries sent."""
    async with factory() as session:
        await fan_out(session, settings, settings.base_url or "")
    await deliver_due(factory, settings)


# ---- the administrator's page ----------------------------------------------------------------------------------


async def _page(request: Request[Any, Any, Any], db: AsyncSession, principal: Principal, **context: Any) -> Template:
    require_admin(principal, N_("manage webhooks"))
    hooks = (await db.execute(select(WebhookEndpoint).where(W.archived_at.is_(None)).order_by(W.created_at.desc()))).scalars().all()
    owners = {
        u.id: u
        for u in (await db.execute(select(User).where(table(User).c.active.is_(True)).order_by(table(User).c.email))).scalars().all()
    }
    recent = (await db.execute(select(WebhookDelivery).order_by(D.created_at.desc()).limit(20))).scalars().all()
    context.setdefault("values", {"owner_id": str(principal.user_id)})
    context.setdefault("errors", {})
    return render(
        request,
        "auth/webhooks.html",
        hooks=hooks,
        owners=owners,
        recent=recent,
        kinds=EVENT_LABELS,
        status_code=context.pop("status_code", 200),
        **context,
    )


@get("/admin/webhooks", name="webhooks", include_in_schema=False)
async def webhooks_page(
    request: Request[Any, Any, Any], db: NamedDependency[AsyncSession], principal: NamedDependency[Principal]
) -> Template:
    return await _page(request, db, principal)


@post("/admin/webhooks", name="webhook_create", include_in_schema=False)
async def webhook_create(
    request: Request[Any, Any, Any], db: NamedDependency[AsyncSession], principal: NamedDependency[Principal]
) -> Template:
    require_admin(principal, N_("manage webhooks"))
    form = await form_dict(request)
    kinds = form.get("kinds") or []
    kinds = kinds if isinstance(kinds, list) else [kinds]
    try:
        owner_id = uuid.UUID(str(form.get("owner_id") or ""))
    except ValueError:
        owner_id = uuid.UUID(int=0)
    try:
        secret = await create_webhook(db, principal, request.app.state.settings, str(form.get("url") or ""), kinds, owner_id)
    except ValidationFailed as exc:
        await db.rollback()
        return await _page(request, db, principal, values={**form, "kinds": kinds}, errors=exc.errors, status_code=422)
    return await _page(request, db, principal, secret=secret)


@post("/admin/webhooks/{webhook_id:uuid}/{change:str}", name="webhook_state", include_in_schema=False)
async def webhook_state(
    request: Request[Any, Any, Any],
    db: NamedDependency[AsyncSession],
    principal: NamedDependency[Principal],
    webhook_id: FromPath[uuid.UUID],
    change: FromPath[str],
) -> Response[Any]:
    if change not in ("pause", "resume"):
        raise NotFoundError("webhook")
    await set_active(db, principal, webhook_id, change == "resume")
    return see_other("/admin/webhooks")


routes = [webhooks_page, webhook_create, webhook_state]
