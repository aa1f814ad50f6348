"""Checks at the edge, before any handler reads the request: bad input is a 400 naming the field, never a 500.

- Control characters (U+0000 and the rest of C0 but tab, line feed and carriage return) in the address, a query
  parameter, a form field or a JSON string: PostgreSQL refuses NUL in text, and no field of ours holds the others.
- JSON bodies are decoded strictly once before Litestar's lenient conversion (meant for forms and query strings):
  `{"enabled": 0}` is not a boolean and `"5"` is not a number.
"""

import re
from typing import Any

import msgspec
from litestar import Request
from litestar.datastructures import UploadFile
from litestar.exceptions import ValidationException

from cooperation import i18n

_CONTROL = re.compile(r"[\x00-\x08\x0b\x0c\x0e-\x1f]")
_FORMS = ("application/x-www-form-urlencoded", "multipart/form-data")


def _refuse(key: str, message: str) -> ValidationException:
    detail = i18n.gettext("The request is not valid: %(errors)s", errors=f"{key} {message}")
    return ValidationException(detail=detail, extra=[{"key": key, "message": message}])


def _control(value: str) -> str | None:
    found = _CONTROL.search(value)
    return f"contains a control character (U+{ord(found.group()):04X})" if found else None


def _walk(value: Any, key: str) -> None:
    if isinstance(value, str):
        if problem := _control(value):
            raise _refuse(key or "body", problem)
    elif isinstance(value, dict):
        for name, item in value.items():
            _walk(item, f"{key}.{name}" if key else str(name))
    elif isinstance(value, list):
        for index, item in enumerate(value):
            _walk(item, f"{key}[{index}]")


async def check_input(request: Request[Any, Any, Any]) -> None:
    if problem := _control(request.scope["path"]):
        raise _refuse("path", problem)
    for name, value in request.query_params.multi_items():
        if problem := _control(value):
            raise _refuse(name, problem)
    if request.method not in ("POST", "PUT", "PATCH"):
        return
    content_type = request.content_type[0]
    if content_type in _FORMS:
        form = await request.form()  # kept by the request: the handler reads the same form
        for name, value in form.multi_items():
            if not isinstance(value, UploadFile) and (problem := _control(str(value))):
                raise _refuse(name, problem)
    elif content_type == "application/json":
        await _check_json(request)


async def _check_json(request: Request[Any, Any, Any]) -> None:
    try:
        raw = msgspec.json.decode(await request.body())
    except msgspec.DecodeError:
        return  # not JSON at all: Litestar answers that itself
    _walk(raw, "")
    field = request.route_handler.parsed_fn_signature.parameters.get("data")
    if field is None:
        return
    try:
        msgspec.convert(raw, type=field.annotation)  # strict: JSON has booleans and numbers of its own
    except msgspec.ValidationError as exc:
        message, _, where = str(exc).partition(" - at `")
        raise _refuse(where.rstrip("`").removeprefix("$.").removeprefix("$") or "body", message) from None


def known_hosts(hosts: frozenset[str]) -> Any:
    """ASGI middleware (outermost): a request for a host this server does not answer for is a 400 before anything
    reads it — so no link, e-mail or kept page can be built from a Host header an attacker chose. Health probes
    (often sent to the bare address) are answered whatever the host. No hosts configured (development): any."""

    def factory(app: Any) -> Any:
        async def middleware(scope: Any, receive: Any, send: Any) -> None:
            if hosts and scope["type"] == "http" and not scope["path"].startswith("/health"):
                host = dict(scope.get("headers") or []).get(b"host", b"").decode("latin-1")
                name = host.rsplit(":", 1)[0] if not host.endswith("]") else host  # "[::1]" has no port to drop
                if name.strip("[]").lower() not in hosts:
                    body = msgspec.json.encode(
                        {
                            "type": "https://libcoop.example/problems/unknown-host",
                            "title": "Unknown host",
                            "status": 400,
                            "detail": "This server does not answer for that host.",
                        }
                    )
                    await send(
                        {
                            "type": "http.response.start",
                            "status": 400,
                            "headers": [(b"content-type", b"application/problem+json"), (b"content-length", str(len(body)).encode())],
                        }
                    )
                    await send({"type": "http.response.body", "body": body})
                    return
            await app(scope, receive, send)

        return middleware

    return factory


def head_as_get(app: Any) -> Any:
    """ASGI middleware: HEAD is answered as GET without its body (RFC 9110 §9.3.2: a general-purpose server supports
    HEAD) — every page, the feeds and the well-known document, with the headers GET would send."""

    async def middleware(scope: Any, receive: Any, send: Any) -> None:
        if scope["type"] != "http" or scope.get("method") != "HEAD":
            await app(scope, receive, send)
            return

        async def headers_only(message: Any) -> None:
            if message["type"] == "http.response.body":
                if not message.get("more_body", False):
                    await send({"type": "http.response.body", "body": b"", "more_body": False})
                return
            await send(message)

        await app({**scope, "method": "GET"}, receive, headers_only)

    return middleware
