"""Scheduled reports through real database restarts, against a PostgreSQL server this module
starts and stops itself (tests/pgserver.py) — never the machine's shared one.

- A restart while a report renders: the run is retried and delivered once, not failed for good.
- A restart under a leader: it notices the lost lock at its next poll and stands by while the process elected
  meanwhile schedules — never two at once — and takes over again when that one stops.
- The pages answer 503 while the server is down and work again, without a restart of the app, once it is back.
"""

import asyncio

import pytest

from cooperation import migrate
from cooperation.db import create_engine, session_factory
from cooperation.reports import delivery
from cooperation.scheduler import Scheduler
from cooperation.settings import Settings
from tests.cooperation.test_scheduled_reports import RECIPIENT, due_subscription, runs_of
from tests.pgserver import PrivatePostgres

pytestmark = pytest.mark.filterwarnings("ignore::pytest.PytestUnraisableExceptionWarning")


@pytest.fixture(scope="module")
def private_pg():
    try:
        server = PrivatePostgres()
    except (RuntimeError, OSError) as exc:
        pytest.skip(f"cannot start a private PostgreSQL: {exc}")
    server.start()
    url = server.createdb("libcoop_outage")
    migrate.upgrade(url)
    server.database_url = url  # type: ignore[attr-defined]
    yield server
    server.remove()


@pytest.fixture
def settings(private_pg, tmp_path, smtp_port) -> Settings:  # this module's database is its own server
    return Settings(
        environment="test",
        secret_key="test-secret-" + "x" * 40,
        database_url=private_pg.database_url,
        data_dir=tmp_path,
        log_level="WARNING",
        smtp_port=smtp_port,
        mail_retry_seconds=1,
        mail_from="LibCoop <reports@nlv.example>",
        report_timeout_seconds=30,
    )


async def _until(condition, seconds: float) -> bool:
    deadline = asyncio.get_running_loop().time() + seconds
    while asyncio.get_running_loop().time() < deadline:
        try:
            if await condition():
                return True
        except Exception:  # the server is still starting
            pass
        await asyncio.sleep(0.2)
    return False


async def test_a_restart_while_rendering_retries_the_run_and_delivers_it_once(
    app,
    private_pg,
    inbox,
    client_for,
    world,
    story,
    monkeypatch,
):
    monkeypatch.setattr(delivery, "RETRY_AFTER", delivery.RETRY_AFTER * 0)  # retry at the next pass, not in 30 s
    director = await client_for("director")
    subscription_id = await due_subscription(app, director, world)
    scheduler = app.state.scheduler
    monkeypatch.setenv("COOP_TEST_RENDER_DELAY", "3")  # the PDF worker (spawned below) takes 3 s
    rendering = asyncio.ensure_future(scheduler.catch_up())

    async def started() -> bool:
        return any(r.status == "rendering" for r in await runs_of(app, subscription_id))

    assert await _until(started, 60), "the run never started rendering"
    await asyncio.to_thread(private_pg.restart, 1.0)  # every connection ends while the PDF is drawn
    await rendering
    (run,) = await runs_of(app, subscription_id)
    assert run.status == "claimed" and run.error.startswith("retrying:"), (run.status, run.error)
    await delivery.resume_interrupted(scheduler.factory, scheduler.settings, scheduler.renderer)
    (run,) = await runs_of(app, subscription_id)
    assert run.status == "sent" and run.attempts == 2
    assert len(inbox.to(RECIPIENT)) == 1 and len(inbox.to(world.users["director"])) == 1


async def test_after_a_restart_the_old_leader_stands_by_and_one_process_schedules(app, private_pg, settings):
    first = app.state.scheduler
    first.election_seconds = 0.3
    other_engine = create_engine(settings.database_url)
    second = Scheduler(settings, other_engine, session_factory(other_engine), first.renderer, election_seconds=0.3)
    try:
        first.start()
        assert await _until(lambda: _true(first.leader), 20), "the first process was not elected"
        await asyncio.to_thread(private_pg.restart, 0.5)
        second.start()  # a process that was standing by, or started meanwhile, wins the free lock
        assert await _until(lambda: _true(second.leader), 20), "nobody took the lock after the restart"
        await first.poll()  # the old leader's next poll: its lock went with the restart
        assert not first.leader
        await asyncio.sleep(1.5)  # it keeps standing by while the other holds the lock
        assert not first.leader and second.leader
        await second.stop()  # the other process stops: the first takes over again
        assert await _until(lambda: _true(first.leader), 20), "the old leader never took over again"
    finally:
        await second.stop()
        await first.stop()
        await other_engine.dispose()


async def _true(value: bool) -> bool:
    return value


async def test_pages_answer_503_while_the_database_is_down_and_recover_without_a_restart(app, private_pg, client_for, world):
    coordinator = await client_for("coordinator")
    assert (await coordinator.get("/agreements")).status_code == 200
    private_pg.stop("immediate")
    try:
        down = await coordinator.get("/agreements")
        api = await coordinator.api("GET", "/api/v1/agreements")
        assert down.status_code == 503 and api.status_code == 503 and api.headers["retry-after"] == "5"
    finally:
        private_pg.start()

    async def back() -> bool:
        return (await coordinator.get("/agreements")).status_code == 200

    assert await _until(back, 10), "pages did not recover once the database was back"
