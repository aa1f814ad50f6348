"""Structured logging (structlog): key=value lines in development, JSON lines in production.

Three rules, each learnt from an outage test: a log line never carries a secret (bearer tokens, cookies, passwords
are redacted wherever they appear); an error's stack trace is plain text (never a traceback with the frames' locals,
which hold the request and its headers); and nothing is formatted or written on the event loop — records go through
a queue to a thread that formats and writes them, so a burst of errors cannot stall the requests being served.
"""

import atexit
import logging
import queue
import re
from collections.abc import Mapping, MutableMapping
from logging.handlers import QueueHandler, QueueListener
from typing import Any

import structlog

from cooperation.settings import Settings

REDACTED = "[redacted]"
# Keys whose values are secrets, in a structured event or a mapping logged as an argument.
SECRET_KEYS = re.compile(r"authorization|cookie|token|password|secret|api[-_]?key|session", re.I)
# The same secrets written inside a message: "Authorization: Bearer abc", "coop_session=…", "password=…".
SECRET_TEXT = re.compile(
    r"(?i)((?:authorization|cookie|set-cookie|x-csrf-token)['\"]?\s*[:=,]\s*['\"]?(?:b['\"])?(?:bearer\s+|basic\s+)?"
    r"|bearer\s+|basic\s+"
    r"|(?:token|password|secret|coop_session|coop_csrf|coop_sso|coop_mfa|api_key|invitation)['\"]?\s*[=:]\s*['\"]?"
    # Addresses whose last part is their secret (uvicorn's access log prints them): the personal iCalendar feed,
    # an invitation, a password-reset link.
    r"|/calendar/|/invitations/|/password/reset/)"
    r"([^\s'\",;&)\]}/]+)"
)


def redact_text(text: str) -> str:
    return SECRET_TEXT.sub(lambda m: m.group(1) + REDACTED, text)


def _redact(value: Any, depth: int = 0) -> Any:
    if depth > 4:
        return value
    if isinstance(value, str):
        return redact_text(value)
    if isinstance(value, bytes):
        return redact_text(value.decode("latin-1"))
    if isinstance(value, dict):
        return {k: REDACTED if isinstance(k, str) and SECRET_KEYS.search(k) else _redact(v, depth + 1) for k, v in value.items()}
    if isinstance(value, list | tuple):
        return type(value)(_redact(v, depth + 1) for v in value)
    return value


def redact_secrets(_logger: Any, _method: str, event: MutableMapping[str, Any]) -> Mapping[str, Any]:
    """structlog processor: secrets out of every field, the message and the formatted stack trace included."""
    return {k: REDACTED if k != "event" and SECRET_KEYS.search(k) else _redact(v) for k, v in event.items()}


class _Enqueue(QueueHandler):
    """Hands the record to the writer thread as it is: the message, its arguments and the stack trace are formatted
    there (QueueHandler would format them here, on the event loop)."""

    def prepare(self, record: logging.LogRecord) -> logging.LogRecord:
        return record


_listener: QueueListener | None = None


def configure_logging(settings: Settings) -> None:
    global _listener
    renderer: structlog.types.Processor = (
        structlog.processors.JSONRenderer()
        if settings.log_json
        else structlog.dev.ConsoleRenderer(colors=False, exception_formatter=structlog.dev.plain_traceback)
    )
    shared: list[structlog.types.Processor] = [
        structlog.contextvars.merge_contextvars,
        structlog.processors.add_log_level,
        structlog.processors.TimeStamper(fmt="iso", utc=True),
    ]
    structlog.configure(
        processors=[*shared, structlog.stdlib.ProcessorFormatter.wrap_for_formatter],
        logger_factory=structlog.stdlib.LoggerFactory(),
        cache_logger_on_first_use=True,
    )
    # The stack trace as plain text under "exception", before redaction (an exception's message may quote a header).
    tracebacks = [structlog.processors.format_exc_info]
    writer = logging.StreamHandler()
    writer.setFormatter(
        structlog.stdlib.ProcessorFormatter(
            foreign_pre_chain=[*shared, structlog.stdlib.ExtraAdder()],
            processors=[structlog.stdlib.ProcessorFormatter.remove_processors_meta, *tracebacks, redact_secrets, renderer],
        )
    )
    _stop()  # configured again (tests, a second app in one process): one writer thread
    records: queue.SimpleQueue[logging.LogRecord] = queue.SimpleQueue()
    _listener = QueueListener(records, writer, respect_handler_level=False)
    _listener.start()
    root = logging.getLogger()
    root.handlers = [_Enqueue(records)]
    root.setLevel(settings.log_level)


def flush() -> None:
    """Write what is queued now (the writer goes on afterwards)."""
    if _listener is not None:
        _listener.stop()
        _listener.start()


@atexit.register
def _stop() -> None:
    global _listener
    if _listener is not None:
        _listener.stop()  # writes what is still queued
        _listener = None
