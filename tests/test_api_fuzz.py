"""Schemathesis against the app's own OpenAPI document: every operation, bounded examples each,
as an administrator with a read-write API token, on PostgreSQL with the demo world — no server error, and every
status code and content type answered is one the document declares.

The app is served by uvicorn on loopback for the module (its event loop and database pool are its own); the
examples are derandomized, so a failure is the same failure on every run.
"""

import asyncio
from collections.abc import Iterator
from typing import Any

import pytest
import schemathesis
from hypothesis import HealthCheck, Phase, given, settings
from hypothesis import strategies as st
from schemathesis import GenerationMode
from schemathesis.checks import content_type_conformance, not_a_server_error, status_code_conformance

from cooperation import demo, migrate
from cooperation.app import demo_loaders
from cooperation.auth.access import Role
from cooperation.auth.services import create_user, principal_of
from cooperation.auth.tokens import TokenIn, TokenScope, create
from cooperation.db import create_engine, session_factory
from cooperation.settings import Settings
from tests.conftest import _pg_available, fresh_pg_database
from tests.e2e.conftest import serving

EXAMPLES = 30  # per operation, valid and invalid input mixed: about 90 operations in under two minutes on two cores


@pytest.fixture(scope="module")
def fuzzed(tmp_path_factory: pytest.TempPathFactory) -> Iterator[dict[str, str]]:
    if not _pg_available():
        pytest.skip("PostgreSQL not reachable")
    with fresh_pg_database("libcoop_fuzz") as url:
        migrate.upgrade(url)
        data_dir = tmp_path_factory.mktemp("fuzz")
        config = Settings(environment="test", secret_key="fuzz-" + "k" * 40, database_url=url, data_dir=data_dir, log_level="CRITICAL")
        token = asyncio.run(_seed(url))
        with serving(config, log_level="critical") as base:
            yield {"base": base, "token": token}


async def _seed(url: str) -> str:
    """The demo world and an administrator's read-write token."""
    engine = create_engine(url)
    factory = session_factory(engine)
    await demo.load(factory, demo_loaders())
    async with factory() as session:
        user = await create_user(
            session, None, email="fuzz-admin@nlv.example", name="Fuzz Admin", role=Role.ADMIN, password="fuzz admin password"
        )
        await session.commit()
        token = await create(session, principal_of(user), TokenIn(name="schemathesis", scope=TokenScope.READ_WRITE))
    await engine.dispose()
    return token.token


def test_every_operation_answers_as_documented(fuzzed: dict[str, str]) -> None:
    auth = {"Authorization": f"Bearer {fuzzed['token']}"}
    api = schemathesis.openapi.from_url(f"{fuzzed['base']}/api/v1/schema/openapi.json", headers=auth)
    failures: dict[str, str] = {}
    totals = {"operations": 0, "requests": 0}
    for result in api.get_all_operations():
        operation = result.ok()
        totals["operations"] += 1

        @settings(
            max_examples=EXAMPLES,
            deadline=None,
            derandomize=True,
            database=None,
            phases=[Phase.explicit, Phase.generate],
            suppress_health_check=list(HealthCheck),
        )
        @given(case=st.one_of(operation.as_strategy(GenerationMode.POSITIVE), operation.as_strategy(GenerationMode.NEGATIVE)))
        def exercise(case: Any) -> None:
            totals["requests"] += 1
            response = case.call(base_url=fuzzed["base"], headers=auth, timeout=30)
            case.validate_response(response, checks=[not_a_server_error, status_code_conformance, content_type_conformance])

        try:
            exercise()
        except (Exception, BaseExceptionGroup) as exc:  # every operation is tried; all failures are reported together
            failures[operation.label] = str(exc)[:1500]
    print(f"schemathesis: {totals['operations']} operations, {totals['requests']} requests, {len(failures)} failing")
    assert totals["operations"] >= 80
    assert not failures, "\n\n".join(f"{label}:\n{text}" for label, text in failures.items())
