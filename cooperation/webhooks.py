"""Outbound webhooks: a library's other systems (its website, its document management) hear of changes.

An administrator registers an address and the kinds of event it wants (agreement, visit, expert exchange, project
progress, report ready), on behalf of an account: a webhook hears only of records that account may see, so a partner's
integration account never learns of another partner's visit. Events come from the audit trail, which every write
already records in its own transaction (a change committed is a change announced; a change rolled back, never).

Deliveries follow the Standard Webhooks specification (the `standardwebhooks` package): `webhook-id`,
`webhook-timestamp` and `webhook-signature` (HMAC-SHA256 with the webhook's secret, shown once). A failed delivery is
tried again after 30 s, 1, 2, 4… minutes, then every hour for as long as it takes: events are sent to each address
in the order they happened, the next one only once the one before is received, so a receiver that was down for days
gets everything, in order, when it is back. The page shows each webhook's last error and how many events wait.

Each event is decided once per webhook — a delivery, or "not for this account" (a record or piece the account may not
see) — and recorded, and each webhook reads the audit trail from where it stopped (its cursor), so neither any number
of events it may not see nor a pause loses it anything.
"""

import base64
import json
import secrets
import uuid
from datetime import datetime, timedelta
from typing import Any

from litestar import Request, Response, get, post
from litestar.di import NamedDependency
from litestar.params import FromPath
from litestar.response import Template
from sqlalchemy import JSON, UniqueConstraint, func, or_, select, update
from sqlalchemy.exc import IntegrityError
from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker
from sqlmodel import Field, SQLModel
from standardwebhooks.webhooks import Webhook as Signer

from cooperation import audit, i18n, outbound
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
LOOK_BACK = timedelta(hours=1)  # behind its cursor: an event committed late (a long transaction) is still found
LONGEST_WAIT = timedelta(hours=1)  # between two tries of a delivery, however long the receiver has been down
DEADLINE = 15.0  # seconds for one delivery, connecting and answering included
BATCH = 100
BATCHES_PER_ROUND = 20  # events decided per webhook per round, at most BATCH × this: a long backlog spans rounds
NOT_FOR_THIS_ACCOUNT = "skipped"  # a decision recorded, never sent


class WebhookEndpoint(RecordBase, table=True):
    __tablename__ = "webhook"

    url: str = Field(max_length=500)
    kinds: list[str] = Field(default_factory=list, sa_type=JSON)
    owner_id: uuid.UUID = Field(foreign_key="app_user.id", index=True)  # it hears what this account may see
    secret: str = Field(max_length=500)  # Fernet token of the whsec_… secret
    active: bool = True
    last_error: str | None = Field(default=None, max_length=500)
    last_delivered_at: datetime | None = Field(default=None, sa_type=UTCDateTime, nullable=True)
    # When the last event it decided happened: the next round reads from there (less the look-back), not from now.
    decided_until: datetime | None = Field(default=None, sa_type=UTCDateTime, nullable=True)


class WebhookDelivery(SQLModel, table=True):
    """One event for one webhook: made once (the unique pair), sent until it is received or a day has passed."""

    __tablename__ = "webhook_delivery"
    __table_args__ = (UniqueConstraint("webhook_id", "event_id", name="uq_webhook_delivery"),)

    id: uuid.UUID = Field(default_factory=new_id, primary_key=True)
    webhook_id: uuid.UUID = Field(foreign_key="webhook.id", index=True)
    event_id: uuid.UUID = Field(foreign_key="audit_event.id")
    event_type: str = Field(max_length=60)
    payload: dict[str, Any] = Field(default_factory=dict, sa_type=JSON)
    status: str = Field(default="pending", max_length=10, index=True)  # pending / delivered / skipped (not for the account)
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
    if "url" not in errors:
        try:  # refused before anything is sent to it: a private or local address is nobody's webhook
            await outbound.target(url, outbound.allowed_networks(settings))
        except outbound.Refused as exc:
            errors["url"] = str(exc)
    owner = await session.get(User, owner_id)
    if owner is None or not owner.active:
        errors["owner_id"] = i18n.gettext("choose the account whose view of the records the webhook gets")
    if errors:
        raise ValidationFailed(errors)
    secret = "whsec_" + base64.b64encode(secrets.token_bytes(32)).decode()
    webhook = WebhookEndpoint(
        url=url, kinds=chosen, owner_id=owner_id, secret=crypto.encrypt(settings.secret_keys, secret, purpose=SECRET_PURPOSE)
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
    """Decide, for each active webhook, the events it has not decided yet, from its cursor on: each becomes a delivery
    or a recorded "not for this account" (each once: the unique pair). Returns how many deliveries were made."""
    # Plain rows, not objects: a delivery another scheduler made first rolls back, and that would expire objects.
    hooks = (
        await session.execute(
            select(W.id, W.owner_id, W.kinds, W.created_at, W.decided_until).where(W.active.is_(True), W.archived_at.is_(None))
        )
    ).all()
    U = table(User).c
    listening = select(User).where(U.id.in_({h.owner_id for h in hooks}), U.active.is_(True))
    owners = {u.id: principal_of(u) for u in (await session.execute(listening)).scalars()}
    made = 0
    for hook in hooks:
        principal = owners.get(hook.owner_id)
        if principal is not None:
            made += await _decide(session, hook, principal, base_url)
    return made


async def _decide(session: AsyncSession, hook: Any, principal: Principal, base_url: str) -> int:
    types = [t for t, (kind, _, _) in KINDS.items() if kind in hook.kinds]
    already = select(D.event_id).where(D.webhook_id == hook.id)
    start = max(hook.created_at, (hook.decided_until or hook.created_at) - LOOK_BACK)
    made = 0
    for _ in range(BATCHES_PER_ROUND):
        events = (
            await session.execute(
                select(E.id, E.entity_type, E.entity_id, E.action, E.occurred_at, E.changes)
                .where(E.entity_type.in_(types), E.occurred_at >= start, E.id.not_in(already))
                .order_by(E.occurred_at, E.id)
                .limit(BATCH)
            )
        ).all()
        for event in events:
            kind, record_kind, path = KINDS[event.entity_type]
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
            heard = await _heard(session, principal, event, kind, record_kind)
            session.add(
                WebhookDelivery(
                    webhook_id=hook.id,
                    event_id=event.id,
                    event_type=payload["type"],
                    payload=payload if heard else {},  # never a word of what the account may not see
                    status="pending" if heard else NOT_FOR_THIS_ACCOUNT,
                )
            )
            try:
                await session.commit()
                made += heard
            except IntegrityError:  # another scheduler decided it first
                await session.rollback()
        if events:
            await session.execute(
                update(WebhookEndpoint)
                .where(W.id == hook.id, or_(W.decided_until.is_(None), W.decided_until < events[-1].occurred_at))
                .values(decided_until=events[-1].occurred_at)
            )
            await session.commit()
        if len(events) < BATCH:
            break
    return made


async def _heard(session: AsyncSession, principal: Principal, event: Any, kind: str, record_kind: str | None) -> bool:
    """Whether this webhook's account hears of the event: its kind, a record it may see, no piece kept from it."""
    if event.entity_id is None or (kind == "project_progress" and event.action not in PROGRESS_ACTIONS):
        return False
    if not await _may_hear(session, principal, event.entity_type, record_kind, event.entity_id):
        return False  # never a word of a record the webhook's account may not see
    # nor of a comment, document or photo kept for the department
    return principal.reads_everything or not _department_piece(event.changes)


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


async def deliver_due(factory: async_sessionmaker[AsyncSession], settings: Settings, *, now: datetime | None = None) -> int:
    """Send the deliveries that are due, each webhook's in the order its events happened (the next only once the one
    before is received), and returns how many were received. A failed one is tried again after 30 s, 1, 2, 4…
    minutes, then hourly: a delivery is never given up, so nothing is lost however long its receiver was down."""
    now = now or utcnow()
    received = 0
    async with factory() as session:
        waiting = (
            await session.execute(
                select(W.id, W.url, W.secret)
                .where(W.active.is_(True), W.archived_at.is_(None))
                .where(select(D.id).where(D.webhook_id == W.id, D.status == "pending", D.next_attempt_at <= now).exists())
            )
        ).all()
        async with outbound.Client(settings, deadline=DEADLINE, max_bytes=64 * 1024) as http:
            for hook in waiting:  # one webhook's backlog never holds up another's
                signer = Signer(crypto.decrypt(settings.secret_keys, hook.secret, purpose=SECRET_PURPOSE))
                queue = (
                    await session.execute(
                        select(WebhookDelivery)
                        .where(D.webhook_id == hook.id, D.status == "pending")
                        .order_by(D.created_at, D.id)
                        .limit(BATCH)
                    )
                ).scalars()
                for delivery in queue:
                    if delivery.next_attempt_at > now:
                        break  # in order: what happened later waits for this one
                    error = await _send(http, hook.url, signer, delivery, now)
                    delivery.attempts += 1
                    if error is None:
                        delivery.status, delivery.delivered_at, delivery.last_error = "delivered", now, None
                        await session.execute(update(WebhookEndpoint).where(W.id == hook.id).values(last_delivered_at=now, last_error=None))
                        received += 1
                        continue
                    delivery.last_error = error[:500]
                    delivery.next_attempt_at = now + min(timedelta(seconds=30 * 2 ** min(delivery.attempts - 1, 12)), LONGEST_WAIT)
                    await session.execute(update(WebhookEndpoint).where(W.id == hook.id).values(last_error=error[:500]))
                    break
                await session.commit()
    return received


async def _send(http: outbound.Client, url: str, signer: Signer, delivery: WebhookDelivery, now: datetime) -> str | None:
    """Post one delivery, signed; None when it was received, else what went wrong (for the page)."""
    body = json.dumps(delivery.payload, ensure_ascii=False)
    message_id = f"msg_{delivery.id.hex}"  # the same on every attempt: the receiver can drop duplicates
    headers = {
        "content-type": "application/json",
        "webhook-id": message_id,
        "webhook-timestamp": str(int(now.timestamp())),
        "webhook-signature": signer.sign(message_id, now, body),
    }
    try:  # its address is checked again now: what it resolves to may have changed since it was registered
        answer = await http.request("POST", url, content=body.encode(), headers=headers)
    except outbound.OutboundError as exc:
        return str(exc)
    if not 200 <= answer.status < 300:
        return i18n.gettext("answered %(status)s", status=answer.status)
    return None


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
    recent = (
        (await db.execute(select(WebhookDelivery).where(D.status != NOT_FOR_THIS_ACCOUNT).order_by(D.created_at.desc()).limit(20)))
        .scalars()
        .all()
    )
    waiting: dict[uuid.UUID, int] = dict(
        (await db.execute(select(D.webhook_id, func.count()).where(D.status == "pending").group_by(D.webhook_id))).all()
    )
    context.setdefault("values", {"owner_id": str(principal.user_id)})
    context.setdefault("errors", {})
    return render(
        request,
        "auth/webhooks.html",
        hooks=hooks,
        owners=owners,
        recent=recent,
        waiting=waiting,
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
