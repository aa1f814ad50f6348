"""Error logs: the real stack trace as plain text, never a secret, nothing written on the event loop."""

import json
import logging
import logging.handlers

import pytest

from cooperation import logs
from cooperation.settings import Settings

TOKEN = "coop_Zk3J9sQ.p7Yv2WfT"


def _serve(headers: dict[str, str]) -> None:
    request_headers = headers  # a frame local holding the secret, as Litestar's request scope does
    raise RuntimeError(f"the database went away while serving {len(request_headers)} headers")


@pytest.mark.parametrize("as_json", [True, False])
def test_an_error_is_logged_with_its_stack_trace_and_without_secrets(capsys, as_json):
    logs.configure_logging(Settings(environment="test", log_json=as_json, secret_key="x" * 48))
    try:
        assert isinstance(logging.getLogger().handlers[0], logging.handlers.QueueHandler)  # written by the listener's thread
        log = logging.getLogger("cooperation")
        try:
            _serve({"authorization": f"Bearer {TOKEN}", "cookie": f"coop_session={TOKEN}"})
        except RuntimeError:
            log.exception("unhandled error on GET /api/v1/agreements (Authorization: Bearer %s)", TOKEN)
        log.warning("signed in", extra={"token": TOKEN, "headers": {"Cookie": f"coop_csrf={TOKEN}"}})
    finally:
        logs.flush()
    out = capsys.readouterr().err
    assert TOKEN not in out
    assert "[redacted]" in out
    assert "Traceback (most recent call last)" in out and "in _serve" in out and "RuntimeError: the database went away" in out
    assert "<traceback object" not in out and "request_headers = " not in out  # no frame locals
    if as_json:
        first = json.loads(out.splitlines()[0])
        assert first["level"] == "error" and "RuntimeError" in first["exception"]
