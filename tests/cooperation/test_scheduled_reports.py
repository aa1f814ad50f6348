"""Scheduled reports, exactly once, against a real SMTP server (aiosmtpd): one e-mail per recipient with the PDF;
a repeated fire, a second run of the catch-up, two scheduling processes and a process killed mid-render each
still deliver once; a send that fails is retried and delivered once; only missed periods are made up."""

import asyncio
import contextlib
import os
import re
import signal
import subprocess
import sys
import time
import uuid
from dataclasses import replace
from datetime import UTC, datetime, timedelta
from pathlib import Path

import pytest
from aiosmtpd.controller import Controller
from sqlalchemy import select, update

from cooperation.app import create_app
from cooperation.db import table
from cooperation.reports import delivery, periods
from cooperation.reports.models import ReportDelivery, ReportRun, ReportSubscription
from cooperation.settings import PROJECT_ROOT
from tests.conftest import Client, http_client
from tests.cooperation.conftest import Inbox
from tests.cooperation.test_reports import pdf_text

RECIPIENT = "archive@nlv.example"


@pytest.fixture
async def mail_app(settings, smtp_port):
    """The app with its mail going to the test SMTP server; the scheduler is driven by the test."""
    application = create_app(replace(settings, smtp_port=smtp_port, mail_retry_seconds=60, mail_from="LibCoop <reports@nlv.example>"))
    yield application
    await application.state.scheduler.stop()
    await application.state.reports.drain()
    application.state.reports.close()
    await application.state.engine.dispose()


async def due_subscription(app, client, world, *, created_days_ago: int = 2, language: str = "en") -> uuid.UUID:
    """A weekly portfolio of the last year, due at midnight UTC today, to the director and an archive address."""
    today = datetime.now(UTC)
    body = {
        "kind": "portfolio",
        "frequency": "weekly",
        "day": today.weekday(),
        "at_time": "00:00:00",
        "time_zone": "UTC",
        "period_kind": "year",
        "language": language,
        "recipient_user_ids": [str(world.principals["director"].user_id)],
        "recipient_emails": [RECIPIENT],
    }
    created = await client.api("POST", "/api/v1/report-subscriptions", json=body)
    assert created.status_code == 201, created.text
    subscription_id = uuid.UUID(created.json()["id"])
    async with app.state.session_factory() as session:  # as if subscribed some days ago: today's midnight run is due
        await session.execute(
            update(ReportSubscription)
            .where(ReportSubscription.id == subscription_id)
            .values(created_at=today - timedelta(days=created_days_ago))
        )
        await session.commit()
    return subscription_id


async def runs_of(app, subscription_id) -> list:
    async with app.state.session_factory() as session:
        return list((await session.execute(select(ReportRun).where(ReportRun.subscription_id == subscription_id))).scalars())


async def test_a_due_subscription_sends_one_email_per_recipient(mail_app, inbox, client_for, world, story):
    director = await client_for("director")
    # client_for uses the session's default app; the subscription lives in the same database.
    subscription_id = await due_subscription(mail_app, director, world)
    scheduler = mail_app.state.scheduler
    assert await scheduler.catch_up() == 1
    assert await scheduler.catch_up() == 0  # claimed: a second pass, a restart or another process finds it taken
    await scheduler._fire(subscription_id)  # a duplicate fire of the same period
    director_mail, archive_mail = inbox.to(world.users["director"]), inbox.to(RECIPIENT)
    assert len(director_mail) == 1 and len(archive_mail) == 1
    message = archive_mail[0]
    last_year = str(datetime.now(UTC).year - 1)
    assert message["Subject"] == f"International cooperation: progress report — {last_year}"
    body = message.get_body(("plain",)).get_content()
    assert "Visits received: 2 (▲ +2 against " in body  # the key figures with their trend, as on page 1
    html = message.get_body(("html",)).get_content()
    assert 'role="presentation"' in html and ">Visits received</div>" in html and "▲ +2 against " in html  # the tiles
    attachment = next(message.iter_attachments())
    assert attachment.get_content_type() == "application/pdf" and attachment.get_filename().endswith(".pdf")
    text = pdf_text(attachment.get_content())
    assert "NLV-BNF-2025" in text and "Working visit of National Library of China experts" in text
    assert "Nguyễn Xuân Dũng" in text and "中国国家图书馆" in text
    assert director_mail[0]["Message-ID"] != message["Message-ID"]
    (run,) = await runs_of(mail_app, subscription_id)
    assert run.status == "sent" and run.period_key == last_year
    archive = await director.api("GET", f"/api/v1/reports/{run.id}")
    assert {d["address"]: d["status"] for d in archive.json()["deliveries"]} == {world.users["director"]: "sent", RECIPIENT: "sent"}


async def test_a_failed_send_is_retried_and_delivered_once(mail_app, smtp_port, client_for, world, story):
    director = await client_for("director")
    subscription_id = await due_subscription(mail_app, director, world)
    await mail_app.state.scheduler.catch_up()  # the SMTP server is down
    (run,) = await runs_of(mail_app, subscription_id)
    shown = (await director.api("GET", f"/api/v1/reports/{run.id}")).json()
    assert shown["status"] == "retrying"
    assert all(d["status"] == "failed" and "Connect" in (d["last_error"] or "") for d in shown["deliveries"]), shown["deliveries"]
    page = await director.get("/reports/subscriptions")
    assert "failed" in page.text and RECIPIENT in page.text
    handler = Inbox()
    controller = Controller(handler, hostname="127.0.0.1", port=smtp_port)
    controller.start()
    try:
        assert await delivery.deliver_due(mail_app.state.session_factory, mail_app.state.settings) == 0  # not yet due again
        # The retry comes due: moved into the past rather than waited for, so a slow machine cannot make it due early.
        async with mail_app.state.session_factory() as session:
            await session.execute(
                update(ReportDelivery)
                .where(ReportDelivery.run_id == run.id)
                .values(next_attempt_at=datetime.now(UTC) - timedelta(seconds=1))
            )
            await session.commit()
        assert await delivery.deliver_due(mail_app.state.session_factory, mail_app.state.settings) == 2
        assert await delivery.deliver_due(mail_app.state.session_factory, mail_app.state.settings) == 0
        assert len(handler.to(RECIPIENT)) == 1 and len(handler.to(world.users["director"])) == 1
    finally:
        controller.stop()
    assert (await director.api("GET", f"/api/v1/reports/{run.id}")).json()["status"] == "sent"


async def test_only_missed_periods_are_made_up(mail_app, inbox, client_for, world, story):
    director = await client_for("director")
    subscription_id = await due_subscription(mail_app, director, world, created_days_ago=15)
    async with mail_app.state.session_factory() as session:
        sub = (
            (await session.execute(select(table(ReportSubscription)).where(table(ReportSubscription).c.id == subscription_id)))
            .mappings()
            .one()
        )
        sub = dict(sub) | {"period_kind": "week"}
        await session.execute(update(ReportSubscription).where(ReportSubscription.id == subscription_id).values(period_kind="week"))
        await session.commit()
    now = datetime.now(UTC)
    fires = [now.replace(hour=0, minute=0, second=0, microsecond=0) - timedelta(days=7 * n) for n in (2, 1, 0)]
    async with mail_app.state.session_factory() as session:  # the two earlier weeks went out before the stop
        for fire in fires[:2]:
            period = delivery.period_for(sub, fire)
            session.add(
                ReportRun(
                    kind="portfolio",
                    period_key=period.key,
                    language="en",
                    title="sent before",
                    requested_by_name="schedule",
                    status="sent",
                    subscription_id=subscription_id,
                    scheduled_for=fire,
                )
            )
        await session.commit()
    assert await mail_app.state.scheduler.catch_up() == 1
    runs = {r.period_key: r.status for r in await runs_of(mail_app, subscription_id)}
    assert runs[delivery.period_for(sub, fires[2]).key] == "sent" and len(runs) == 3
    assert len(inbox.to(RECIPIENT)) == 1
    assert periods.previous("week", fires[2].date()).key == delivery.period_for(sub, fires[2]).key


def _scheduler_process(settings, smtp_port: int, tmp_path, *, delay: float = 0) -> subprocess.Popen:
    env = os.environ | {
        "COOP_DATABASE_URL": settings.database_url,
        "COOP_DATA_DIR": str(tmp_path),
        "COOP_SECRET_KEY": settings.secret_key,
        "COOP_ENV": "test",
        "COOP_SMTP_PORT": str(smtp_port),
        "COOP_SCHEDULER": "1",
        "COOP_SCHEDULER_POLL_SECONDS": "1",
        "COOP_REPORT_TIMEOUT": "3",  # a run's lease: twice this
        "COOP_TEST_RENDER_DELAY": str(delay),
        "COOP_LOG_LEVEL": "WARNING",
    }
    return subprocess.Popen(
        [sys.executable, "-m", "cooperation.cli", "scheduler"],
        cwd=PROJECT_ROOT,
        env=env,
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
        start_new_session=True,  # its own process group: killing it kills its PDF worker too
    )


async def _wait_for(condition, seconds: float) -> bool:
    deadline = time.monotonic() + seconds
    while time.monotonic() < deadline:
        if await condition():
            return True
        await asyncio.sleep(0.3)
    return False


@pytest.mark.parametrize("backend", ["postgresql"], indirect=True)
async def test_two_scheduling_processes_deliver_each_run_once(mail_app, inbox, smtp_port, client_for, world, story, tmp_path):
    director = await client_for("director")
    subscription_id = await due_subscription(mail_app, director, world)
    processes = [_scheduler_process(mail_app.state.settings, smtp_port, tmp_path) for _ in range(2)]
    try:
        assert await _wait_for(lambda: _count(inbox, 2), 60), "no e-mail within a minute"
        await asyncio.sleep(4)  # time for a second delivery, if there were going to be one
        assert len(inbox.to(RECIPIENT)) == 1 and len(inbox.to(world.users["director"])) == 1
        assert len(await runs_of(mail_app, subscription_id)) == 1
        assert [p.poll() for p in processes] == [None, None]  # both ran the whole time: one scheduled, one stood by
    finally:
        for process in processes:
            os.killpg(process.pid, signal.SIGTERM)
            process.wait(timeout=20)


@pytest.mark.parametrize("backend", ["postgresql"], indirect=True)
async def test_a_process_killed_while_rendering_leaves_the_run_to_be_done_once(
    mail_app,
    inbox,
    smtp_port,
    client_for,
    world,
    story,
    tmp_path,
):
    director = await client_for("director")
    subscription_id = await due_subscription(mail_app, director, world)
    slow = _scheduler_process(mail_app.state.settings, smtp_port, tmp_path, delay=30)

    async def rendering() -> bool:
        return any(r.status == "rendering" for r in await runs_of(mail_app, subscription_id))

    try:
        assert await _wait_for(rendering, 60), "the first process never started rendering"
    finally:
        os.killpg(slow.pid, signal.SIGKILL)
        slow.wait(timeout=20)
    assert inbox.messages == []
    other = _scheduler_process(mail_app.state.settings, smtp_port, tmp_path)
    try:
        assert await _wait_for(lambda: _count(inbox, 2), 60), "the run was not taken over"
        await asyncio.sleep(3)
        assert len(inbox.to(RECIPIENT)) == 1 and len(inbox.to(world.users["director"])) == 1
        (run,) = await runs_of(mail_app, subscription_id)
        assert run.status == "sent" and run.attempts == 2
    finally:
        os.killpg(other.pid, signal.SIGTERM)
        other.wait(timeout=20)


async def _count(inbox: Inbox, expected: int) -> bool:
    return len(inbox.messages) >= expected


async def test_subscription_rules(client_for, world):
    director = await client_for("director")
    base = {"kind": "portfolio", "frequency": "monthly", "recipient_emails": [RECIPIENT]}
    for change, field in [
        ({"day": 31}, "day"),
        ({"frequency": "weekly", "day": 7}, "day"),
        ({"time_zone": "Mars/Olympus"}, "time_zone"),
        ({"recipient_emails": ["not an address"]}, "recipient_emails"),
        ({"recipient_emails": []}, "recipient_emails"),
        ({"frequency": "daily"}, "frequency"),
        ({"language": "de"}, "language"),
    ]:
        response = await director.api("POST", "/api/v1/report-subscriptions", json=base | change)
        assert response.status_code == 422 and field in response.json()["errors"], (change, response.text)
    partner = await client_for("partner_b")
    hidden = await partner.api("POST", "/api/v1/report-subscriptions", json=base | {"kind": "partner", "scope_id": str(world.nlc)})
    assert hidden.status_code == 404
    mine = await director.api("POST", "/api/v1/report-subscriptions", json=base)
    assert mine.status_code == 201
    assert (await partner.api("GET", f"/api/v1/report-subscriptions/{mine.json()['id']}")).status_code == 404
    admin = await client_for("admin")
    assert len((await admin.api("GET", "/api/v1/report-subscriptions")).json()) == 1


async def test_reminders_are_one_email_per_person_per_day(mail_app, inbox, client_for, world, people, db):
    from datetime import date

    from agreements.jobs import send_expiry_reminders
    from agreements.models import Agreement
    from cooperation.followups import send_due_reminders
    from tests.agreements.helpers import agreement_payload
    from tests.exchanges.helpers import seed_visit_payload

    coordinator = await client_for("coordinator")
    luo = (
        await coordinator.api(
            "POST", "/api/v1/people", json={"name": "Luo Chong", "institution_id": str(world.nlc), "email": "luo.chong@nlc.example"}
        )
    ).json()
    visit = (await coordinator.api("POST", "/api/v1/visits", json=seed_visit_payload(world, people))).json()
    today = date.today()
    for text, due in [
        ("Send the platform documentation", today + timedelta(days=3)),
        ("Propose the 2027 exchange", today - timedelta(days=2)),
    ]:
        added = await coordinator.api(
            "POST",
            f"/api/v1/follow-ups/visit/{visit['id']}",
            json={
                "text": text,
                "responsible_institution_id": str(world.nlc),
                "responsible_person_id": luo["id"],
                "due_on": due.isoformat(),
            },
        )
        assert added.status_code == 201, added.text
    factory, settings = mail_app.state.session_factory, mail_app.state.settings
    assert await send_due_reminders(factory, settings, today) == 1
    assert await send_due_reminders(factory, settings, today) == 0  # the same day again: nothing
    (message,) = inbox.to("luo.chong@nlc.example")
    body = message.get_body(("plain",)).get_content()
    assert "Send the platform documentation" in body and "Propose the 2027 exchange" in body and "overdue" in body

    agreement = (await coordinator.api("POST", "/api/v1/agreements", json=agreement_payload([world.home, world.nlc]))).json()
    await db.execute(
        update(Agreement)
        .where(Agreement.id == uuid.UUID(agreement["id"]))
        .values(status="in_force", effective_on=today - timedelta(days=300), expires_on=today + timedelta(days=20))
    )
    await db.commit()
    assert await send_expiry_reminders(factory, settings, today) == 2  # the coordinator and the administrator
    assert await send_expiry_reminders(factory, settings, today) == 0
    (deadline,) = inbox.to(world.users["coordinator"])
    assert agreement["reference"] in deadline.get_body(("plain",)).get_content()


async def test_subscriptions_from_the_pages(client_for, world):
    from tests.html_forms import form_fields

    director = await client_for("director")
    page = await director.get("/reports/subscriptions")
    assert page.status_code == 200
    fields = form_fields(page.text, "/reports/subscriptions")
    assert fields["recipient_emails"] == world.users["director"]  # yourself, to start with
    bad = await director.form("/reports/subscriptions", fields | {"day": "30"})
    assert bad.status_code == 422 and "from 1 to 28" in bad.text
    made = await director.form(
        "/reports/subscriptions", fields | {"language": "fr", "frequency": "quarterly", "recipient_emails": "a@nlv.example, b@nlv.example"}
    )
    assert made.status_code == 303
    (subscription,) = (await director.api("GET", "/api/v1/report-subscriptions")).json()
    assert subscription["active"] is True  # a form with no `active` field made it inactive: never sent
    assert (subscription["frequency"], subscription["period_kind"], subscription["language"]) == ("quarterly", "quarter", "fr")
    assert subscription["recipient_emails"] == ["a@nlv.example", "b@nlv.example"]
    edit_url = f"/reports/subscriptions/{subscription['id']}"
    edit = await director.get(edit_url + "/edit")
    saved = await director.form(edit_url, form_fields(edit.text, edit_url))
    assert saved.status_code == 303
    again = (await director.api("GET", f"/api/v1/report-subscriptions/{subscription['id']}")).json()
    assert again["active"] is True
    assert {k: v for k, v in again.items() if k != "version"} == {k: v for k, v in subscription.items() if k != "version"}
    other = await client_for("partner_a")
    assert (await other.get(edit_url + "/edit")).status_code == 404
    stopped = await director.form(edit_url + "/stop", {"version": str(again["version"])})
    assert stopped.status_code == 303
    assert (await director.api("GET", "/api/v1/report-subscriptions")).json() == []


async def test_a_subscription_made_on_the_page_is_sent_by_the_scheduler(mail_app, inbox, world, story):
    """The director subscribes from the page; the scheduler's next pass e-mails the report with its PDF."""
    from tests.html_forms import form_fields

    async with http_client(mail_app, "192.0.2.60") as raw:
        director = Client(raw)
        await director.sign_in(world.users["director"])
        page = await director.get("/reports/subscriptions")
        fields = form_fields(page.text, "/reports/subscriptions")
        today = datetime.now(UTC)
        chosen = {"kind": "portfolio", "frequency": "weekly", "day": str(today.weekday()), "at_time": "00:00", "time_zone": "UTC"}
        made = await director.form("/reports/subscriptions", fields | chosen | {"period_kind": "year", "language": "vi"})
        assert made.status_code == 303, made.text
        (subscription,) = (await director.api("GET", "/api/v1/report-subscriptions")).json()
        # The page says when it goes next: a week from today's midnight UTC, in the director's time (UTC+7).
        listed = await director.get("/reports/subscriptions")
        next_sent = re.search(r'<td class="next-sent">([^<]+)</td>', listed.text).group(1)
        week_on = (today + timedelta(days=7)).date()
        assert "07:00" in next_sent and str(week_on.day) in next_sent and str(week_on.year) in next_sent, next_sent
    async with mail_app.state.session_factory() as session:  # subscribed two days ago: today's midnight run is due
        made_id = uuid.UUID(subscription["id"])
        backdated = update(ReportSubscription).where(ReportSubscription.id == made_id).values(created_at=today - timedelta(days=2))
        await session.execute(backdated)
        await session.commit()
    assert await mail_app.state.scheduler.catch_up() == 1
    (message,) = inbox.to(world.users["director"])
    attachment = next(message.iter_attachments())
    assert attachment.get_content_type() == "application/pdf"
    assert "NLV-BNF-2025" in pdf_text(attachment.get_content())


async def test_send_me_one_now_delivers_the_latest_period_at_once_and_leaves_the_timetable_alone(mail_app, inbox, world, story):
    """ "Send me one now" on the subscriptions page: the director gets the report of the latest complete period in
    a minute, with its PDF, alone; the archive address waits for the timetable, which then sends that period once."""
    async with http_client(mail_app, "192.0.2.61") as raw:
        director = Client(raw)
        await director.sign_in(world.users["director"])
        subscription = await due_subscription(mail_app, director, world)
        listed = await director.get("/reports/subscriptions")
        assert f'action="/reports/subscriptions/{subscription}/send"' in listed.text and "Send me one now" in listed.text
        sent = await director.form(f"/reports/subscriptions/{subscription}/send", {})
        assert sent.status_code == 303
        said = await director.get(sent.headers["location"])
        assert 'id="sent-now"' in said.text and world.users["director"] in said.text
        assert await _wait_for(lambda: _sent_to(inbox, world.users["director"]), 60)
        (message,) = inbox.to(world.users["director"])
        attachment = next(message.iter_attachments())
        assert attachment.get_content_type() == "application/pdf" and "NLV-BNF-2025" in pdf_text(attachment.get_content())
        assert inbox.to(RECIPIENT) == []  # to the one who asked, alone
        # Another's subscription is not theirs to send.
        coordinator = Client(raw)
        assert (await coordinator.form(f"/reports/subscriptions/{uuid.uuid4()}/send", {})).status_code == 404
    # The timetable is as it was: its period is sent once, to everyone it names.
    assert await mail_app.state.scheduler.catch_up() == 1
    assert len(inbox.to(RECIPIENT)) == 1 and len(inbox.to(world.users["director"])) == 2


async def _sent_to(inbox, address: str) -> bool:
    return bool(inbox.to(address))


async def test_a_fire_that_met_an_outage_is_made_up_by_the_next_poll(mail_app, inbox, client_for, world, story, monkeypatch):
    """The fire tries once; the database was away then. The next poll that goes through makes the period up, once."""
    from sqlalchemy.exc import OperationalError

    director = await client_for("director")
    subscription_id = await due_subscription(mail_app, director, world)
    scheduler = mail_app.state.scheduler
    assert await scheduler._elect()  # this process schedules (PostgreSQL: it holds the lock)
    today = datetime.now(UTC).replace(hour=0, minute=0, second=0, microsecond=0)
    scheduler._polled_at = today - timedelta(minutes=1)  # the last poll that went through came just before the fire

    async def away(*args, **kwargs):
        raise OperationalError("INSERT INTO report_run …", {}, ConnectionRefusedError(111, "Connection refused"))

    with monkeypatch.context() as patched:
        patched.setattr(delivery, "run_subscription", away)
        with pytest.raises(OperationalError):
            await scheduler._fire(subscription_id)
        await scheduler.poll()  # still away: the poll says so and keeps its mark
    assert await runs_of(mail_app, subscription_id) == [] and scheduler._polled_at < today
    await scheduler.poll()
    await scheduler.poll()
    (run,) = await runs_of(mail_app, subscription_id)
    assert run.status == "sent" and len(inbox.to(RECIPIENT)) == 1
    await scheduler.stop()


async def test_an_administrator_renders_a_failed_run_again(mail_app, inbox, client_for, world, story, db):
    from cooperation.auth.models import User

    director, admin = await client_for("director"), await client_for("admin")
    subscription_id = await due_subscription(mail_app, director, world)
    owner = world.principals["director"].user_id
    await db.execute(update(User).where(User.id == owner).values(active=False))  # a reason that will not pass by itself
    await db.commit()
    await mail_app.state.scheduler.catch_up()
    (run,) = await runs_of(mail_app, subscription_id)
    assert run.status == "failed" and "can no longer sign in" in run.error
    await db.execute(update(User).where(User.id == owner).values(active=True))
    await db.commit()
    page = await admin.get("/reports/subscriptions")
    assert "Render and send again" in page.text
    again = await admin.api("POST", f"/api/v1/reports/{run.id}/resend")
    assert again.status_code == 200 and again.json()["status"] == "claimed"
    scheduler = mail_app.state.scheduler
    await delivery.resume_interrupted(scheduler.factory, scheduler.settings, scheduler.renderer)
    (run,) = await runs_of(mail_app, subscription_id)
    assert run.status == "sent" and len(inbox.to(RECIPIENT)) == 1
    assert (await admin.api("POST", f"/api/v1/reports/{run.id}/resend")).status_code == 200  # sent: sends again


def _children(pid: int) -> list[int]:
    """The processes whose parent is `pid` (from /proc)."""
    found = []
    for stat in Path("/proc").glob("[0-9]*/stat"):
        try:
            fields = stat.read_text().rsplit(")", 1)[1].split()
        except OSError:
            continue
        if int(fields[1]) == pid:
            found.append(int(stat.parent.name))
    return found


def _alive(pid: int) -> bool:
    try:
        state = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()[0]
    except OSError:
        return False
    return state not in ("Z", "X")  # a zombie has exited (nobody reaped it yet)


@pytest.mark.parametrize("backend", ["postgresql"], indirect=True)
async def test_a_killed_scheduler_leaves_no_pdf_worker_running(mail_app, smtp_port, client_for, world, story, tmp_path):
    director = await client_for("director")
    subscription_id = await due_subscription(mail_app, director, world)
    process = _scheduler_process(mail_app.state.settings, smtp_port, tmp_path, delay=60)

    async def rendering() -> bool:
        return any(r.status == "rendering" for r in await runs_of(mail_app, subscription_id))

    try:
        assert await _wait_for(rendering, 60), "the scheduler never started rendering"
        left = _children(process.pid)
        assert left, "no PDF worker found"
        os.kill(process.pid, signal.SIGKILL)  # the parent only: its workers and resource tracker must follow
        process.wait(timeout=10)

        async def gone() -> bool:
            return not any(_alive(pid) for pid in left)

        assert await _wait_for(gone, 10), f"processes outlived the scheduler: {[pid for pid in left if _alive(pid)]}"
    finally:
        with contextlib.suppress(ProcessLookupError):
            os.killpg(process.pid, signal.SIGKILL)
