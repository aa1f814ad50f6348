"""The API reference (OpenAPI): only the API's operations, each with its description (the handler's docstring),
its request body (multipart uploads included) and the problem+json answers it may give."""

import re
from collections.abc import Iterable
from dataclasses import dataclass
from typing import Any

import msgspec
from litestar.handlers import HTTPRouteHandler
from litestar.openapi.datastructures import ResponseSpec
from litestar.openapi.plugins import RapidocRenderPlugin
from litestar.openapi.spec import OpenAPIMediaType, OpenAPIType, Operation, RequestBody, Schema


class Problem(msgspec.Struct):
    """An RFC 9457 problem: what went wrong, and for invalid input each field with what is wrong with it."""

    type: str
    title: str
    status: int
    detail: str
    errors: dict[str, str] | None = None


PROBLEM = "application/problem+json"
PROBLEM_ANSWERS = {
    400: "The request is not valid (a field of the wrong type, a malformed body); `errors` names each field.",
    401: "Not signed in: send a session cookie or `Authorization: Bearer <token>`.",
    403: "Signed in, but this role or token may not do this.",
    404: "No such record, or one you may not see (the two look the same).",
    409: "A conflict: the record changed since you read it (`version`), or the change is refused in its current state.",
    422: "A field's value breaks a rule; `errors` names each field.",
    503: "The database is unavailable; try again after `Retry-After` seconds.",
}


def _responses() -> dict[int, ResponseSpec]:
    return {
        status: ResponseSpec(data_container=Problem, description=text, media_type=PROBLEM, generate_examples=False)
        for status, text in PROBLEM_ANSWERS.items()
    }


def _handlers(item: Any) -> Iterable[HTTPRouteHandler]:
    if isinstance(item, HTTPRouteHandler):
        yield item
    elif isinstance(item, type):  # a Controller: its handlers are class attributes
        for value in vars(item).values():
            if isinstance(value, HTTPRouteHandler):
                yield value


def document(route_handlers: Iterable[Any], api_prefix: str) -> None:
    """Pages stay out of the API reference; every API operation documents its problem answers."""
    for item in route_handlers:
        base = getattr(item, "path", "") if isinstance(item, type) else ""
        for handler in _handlers(item):
            paths = {base.rstrip("/") + "/" + p.lstrip("/") if base else p for p in handler.paths}
            if not all(p.startswith(api_prefix) for p in paths):
                handler.include_in_schema = False
            else:
                handler.responses = {**_responses(), **(handler.responses or {})}


def multipart(description: str, fields: dict[str, str], *, required: tuple[str, ...] = ("file",), also_csv: bool = False) -> type:
    """An Operation with a multipart request body, for upload handlers that read the form themselves.

    `fields` maps each field to its description; `file` is binary, the others text.
    """
    properties: dict[str, Any] = {
        name: Schema(type=OpenAPIType.STRING, format="binary" if name == "file" else None, description=text)  # type: ignore[arg-type]
        for name, text in fields.items()
    }
    form = Schema(type=OpenAPIType.OBJECT, properties=properties, required=list(required))
    content = {"multipart/form-data": OpenAPIMediaType(schema=form)}
    if also_csv:
        content["text/csv"] = OpenAPIMediaType(schema=Schema(type=OpenAPIType.STRING, description="the CSV file itself, UTF-8"))

    @dataclass
    class WithUpload(Operation):
        def __post_init__(self) -> None:
            self.request_body = RequestBody(content=content, description=description, required=True)

    return WithUpload


class ReferencePage(RapidocRenderPlugin):
    """The rendered reference, with a way back to the app in its navigation; everything from our own server (no
    favicon from a CDN, no fonts from Google: the Content-Security-Policy allows neither, and a reader's visit is
    nobody else's business)."""

    def __init__(self, **kwargs: Any) -> None:
        super().__init__(favicon="", **kwargs)

    def render(self, request: Any, openapi_schema: dict[str, Any]) -> bytes:
        page = super().render(request, openapi_schema).decode()
        page = re.sub(
            r"<rapi-doc ([^>]*?)\s*/>",
            r'<rapi-doc \1 nav-bg-color="#14324a" load-fonts="false">'
            r'<a slot="nav-logo" href="/" style="color:#fff;padding:.5rem;display:block">'
            r"← Back to LibCoop</a></rapi-doc>",
            page,
        )
        return page.encode()


DESCRIPTION = (
    "The JSON API of LibCoop. Sign in with a session (the app's cookie and `x-csrf-token` header) or a personal "
    "API token (`Authorization: Bearer …`, created under *API tokens*). Field names and codes are English and stable; "
    "errors are `application/problem+json` with the fields that were wrong. [Back to LibCoop](/)"
)
