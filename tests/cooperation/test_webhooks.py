"""Outbound webhooks: a change committed is posted, signed per Standard Webhooks, to the addresses that
asked for its kind — never a record the webhook's account may not see — and tried again when it is not received."""

import http.server
import json
import re
import threading
import uuid
from collections.abc import Iterator
from datetime import timedelta

import pytest
from sqlalchemy import func, select, update
from standardwebhooks.webhooks import Webhook, WebhookVerificationError

from cooperation import webhooks
from cooperation.db import utcnow
from tests.exchanges.helpers import seed_visit_payload


class Receiver:
    """An HTTP server on loopback that keeps what it is sent and answers `status`."""

    def __init__(self) -> None:
        self.received: list[tuple[dict[str, str], bytes]] = []
        self.status = 200
        outer = self

        class Handler(http.server.BaseHTTPRequestHandler):
            def do_POST(self) -> None:
                body = self.rfile.read(int(self.headers.get("content-length", 0)))
                outer.received.append(({k.lower(): v for k, v in self.headers.items()}, body))
                self.send_response(outer.status)
                self.end_headers()

            def log_message(self, *args: object) -> None:
                pass

        self.server = http.server.ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self.url = f"http://127.0.0.1:{self.server.server_address[1]}/libcoop-events"
        threading.Thread(target=self.server.serve_forever, daemon=True).start()


@pytest.fixture
def receiver() -> Iterator[Receiver]:
    listening = Receiver()
    yield listening
    listening.server.shutdown()
    listening.server.server_close()


async def _webhook(admin, url: str, owner_id, kinds: list[str]) -> str:
    page = await admin.form("/admin/webhooks", {"url": url, "owner_id": str(owner_id), "kinds": kinds})
    assert page.status_code == 200, page.text[:300]
    return re.search(r'id="webhook-secret">(whsec_[^<]+)<', page.text).group(1)


async def test_changes_are_posted_signed_only_to_those_who_may_see_them(app, db, client_for, world, people, receiver):
    admin = await client_for("admin")
    refused = await admin.form("/admin/webhooks", {"url": "ftp://x", "owner_id": str(world.principals["admin"].user_id)})
    assert refused.status_code == 422 and "choose at least one kind of event" in refused.text
    secret = await _webhook(admin, receiver.url, world.principals["admin"].user_id, ["visit"])
    # The BnF's integration account asks for visits too: a visit with the NLC is none of its business.
    await _webhook(admin, receiver.url + "?bnf", world.principals["partner_b"].user_id, ["visit"])
    coordinator = await client_for("coordinator")
    visit = (await coordinator.api("POST", "/api/v1/visits", json=seed_visit_payload(world, people))).json()

    settings = app.state.settings
    assert await webhooks.fan_out(db, settings, "https://libcoop.nlv.example") == 1
    assert await webhooks.fan_out(db, settings, "https://libcoop.nlv.example") == 0  # each event once
    assert await webhooks.deliver_due(app.state.session_factory, settings) == 1
    ((headers, body),) = receiver.received
    payload = Webhook(secret).verify(body, headers)  # raises unless the signature is right
    assert payload["type"] == "visit.created" and payload["data"]["id"] == visit["id"]
    assert payload["data"]["url"] == f"https://libcoop.nlv.example/visits/{visit['id']}"
    assert headers["webhook-id"].startswith("msg_")
    with pytest.raises(WebhookVerificationError):  # a forged body does not verify
        Webhook(secret).verify(body.replace(b"visit.created", b"visit.deleted"), headers)

    # The receiver fails: the delivery waits and is tried again, its error on the page.
    receiver.status = 500
    changed = {**seed_visit_payload(world, people, city="Hải Phòng"), "version": 1}
    assert (await coordinator.api("PUT", f"/api/v1/visits/{visit['id']}", json=changed)).status_code == 200
    await webhooks.fan_out(db, settings, "https://libcoop.nlv.example")
    assert await webhooks.deliver_due(app.state.session_factory, settings) == 0
    updated = select(webhooks.WebhookDelivery).where(
        webhooks.WebhookDelivery.event_type == "visit.updated", webhooks.WebhookDelivery.status != "skipped"
    )
    delivery = (await db.execute(updated)).scalar_one()
    assert (delivery.status, delivery.attempts, delivery.last_error) == ("pending", 1, "answered 500")
    assert "answered 500" in (await admin.get("/admin/webhooks")).text
    receiver.status = 204
    assert await webhooks.deliver_due(app.state.session_factory, settings) == 0  # not due yet (30 s)
    assert await webhooks.deliver_due(app.state.session_factory, settings, now=utcnow() + timedelta(minutes=1)) == 1
    same = [h["webhook-id"] for h, b in receiver.received if json.loads(b)["type"] == "visit.updated"]
    assert len(same) == 2 and same[0] == same[1]  # the same message id: the receiver can drop a duplicate
    assert len(receiver.received) == 3  # one creation, two tries of the update
    theirs = await db.execute(
        select(webhooks.WebhookDelivery.status, webhooks.WebhookDelivery.payload)
        .join(webhooks.WebhookEndpoint, webhooks.WebhookEndpoint.id == webhooks.WebhookDelivery.webhook_id)
        .where(webhooks.WebhookEndpoint.url.endswith("?bnf"))
    )
    # Nothing for the BnF's webhook, not even that something happened: each event decided once, "not for this account".
    assert theirs.all() == [("skipped", {}), ("skipped", {})]


async def test_a_partners_webhook_never_hears_of_a_department_only_piece(app, db, client_for, world, people, receiver):
    """NLC's integration account hears of the comment shared with it, not of the coordinator's internal note."""
    admin = await client_for("admin")
    await _webhook(admin, receiver.url, world.principals["partner_a"].user_id, ["visit"])
    coordinator = await client_for("coordinator")
    visit = (await coordinator.api("POST", "/api/v1/visits", json=seed_visit_payload(world, people))).json()
    settings = app.state.settings
    assert await webhooks.fan_out(db, settings, "https://libcoop.nlv.example") == 1  # the shared visit itself
    owner = f"/api/v1/comments/visit/{visit['id']}"
    await coordinator.api("POST", owner, json={"body": "INTERNAL NOTE: gift budget exceeded"})
    assert await webhooks.fan_out(db, settings, "https://libcoop.nlv.example") == 0
    await coordinator.api("POST", owner, json={"body": "Thank you for coming", "audience": "partners"})
    assert await webhooks.fan_out(db, settings, "https://libcoop.nlv.example") == 1
    assert await webhooks.deliver_due(app.state.session_factory, settings) == 2
    types = sorted(json.loads(body)["type"] for _, body in receiver.received)
    assert types == ["visit.comment", "visit.created"]


def _bnf_visit(world, people):
    return seed_visit_payload(world, people, visiting_institution_id=str(world.bnf), participants=[], agenda=[], title="BnF visit")


async def test_no_number_of_hidden_events_or_days_down_loses_a_webhook_anything(app, db, client_for, world, people, receiver):
    """BnF's integration account hears of its own visit even behind 250 events it may not see (each decided once, as
    "not for this account", never read again); a webhook paused for three days gets what happened meanwhile; and a
    receiver down for days gets every event when it is back, in the order they happened."""
    from cooperation import audit
    from cooperation.audit import AuditEvent

    admin, coordinator = await client_for("admin"), await client_for("coordinator")
    await _webhook(admin, receiver.url, world.principals["partner_b"].user_id, ["visit"])
    nlc_visit = (await coordinator.api("POST", "/api/v1/visits", json=seed_visit_payload(world, people))).json()
    for n in range(250):  # the NLC's visit edited over and over: none of the BnF's business
        audit.record(db, world.principals["coordinator"], "update", "visit", uuid.UUID(nlc_visit["id"]), summary=f"edit {n}")
    await db.commit()
    bnf_visit = await coordinator.api("POST", "/api/v1/visits", json=_bnf_visit(world, people))
    assert bnf_visit.status_code == 201, bnf_visit.text
    bnf_visit = bnf_visit.json()
    settings, factory = app.state.settings, app.state.session_factory
    made = sum([await webhooks.fan_out(db, settings, "https://libcoop.nlv.example") for _ in range(3)])
    assert made == 1 and await webhooks.deliver_due(factory, settings) == 1
    assert json.loads(receiver.received[0][1])["data"]["id"] == bnf_visit["id"]
    D = webhooks.WebhookDelivery
    decided = dict((await db.execute(select(D.status, func.count()).group_by(D.status))).all())
    assert decided == {"delivered": 1, "skipped": 251}  # each event decided once; the skipped carry no payload
    assert {str(p) for p in (await db.execute(select(D.payload).where(D.status == "skipped"))).scalars()} == {"{}"}

    # Paused, then three days of changes, then resumed: nothing dropped for being older than an hour.
    hook = (await db.execute(select(webhooks.WebhookEndpoint))).scalar_one()
    await admin.form(f"/admin/webhooks/{hook.id}/pause", {})
    changed = {**_bnf_visit(world, people), "version": 1}
    assert (await coordinator.api("PUT", f"/api/v1/visits/{bnf_visit['id']}", json=changed | {"city": "Huế"})).status_code == 200
    # As if paused three days ago and edited two days ago: what went before moves back three days, the edit two.
    W = webhooks.WebhookEndpoint
    edited = AuditEvent.summary.like("%edited")
    now = utcnow()
    await db.execute(update(AuditEvent).where(~edited).values(occurred_at=now - timedelta(days=3)))
    await db.execute(update(AuditEvent).where(edited).values(occurred_at=now - timedelta(days=2)))
    await db.execute(update(W).values(created_at=now - timedelta(days=4), decided_until=now - timedelta(days=3)))
    await db.commit()
    await admin.form(f"/admin/webhooks/{hook.id}/resume", {})
    assert await webhooks.fan_out(db, settings, "https://libcoop.nlv.example") == 1

    # The receiver is down for days: the delivery is tried less and less often (at least hourly), never given up,
    # and what happened after it waits behind it, then arrives in order.
    receiver.status = 503
    again = {**changed, "version": 2, "city": "Đà Nẵng"}
    assert (await coordinator.api("PUT", f"/api/v1/visits/{bnf_visit['id']}", json=again)).status_code == 200
    assert await webhooks.fan_out(db, settings, "https://libcoop.nlv.example") == 1
    later = utcnow()
    for hours in range(0, 72, 6):
        assert await webhooks.deliver_due(factory, settings, now=later + timedelta(hours=hours)) == 0
    tried = [json.loads(body)["timestamp"] for _, body in receiver.received[1:]]
    assert len(tried) == 12 and len(set(tried)) == 1  # only the older of the two, each time
    assert "503" in (await admin.get("/admin/webhooks")).text
    receiver.status = 204
    assert await webhooks.deliver_due(factory, settings, now=later + timedelta(days=3, hours=1)) == 2
    order = [json.loads(body)["timestamp"] for _, body in receiver.received[-2:]]
    assert order == sorted(order)
