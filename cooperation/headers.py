"""Security headers on every answer (pages, API, files, errors), set by one `before_send` hook.

The Content-Security-Policy allows the app's own scripts and styles only (htmx and RapiDoc are vendored under
/static); nothing inline but the `<style>` of a progress chart, which carries this response's nonce. Pages cannot be
framed by another site, the browser never guesses a content type, and addresses are not sent to other sites (the
personal iCalendar feed's address is its secret). HSTS is sent in production, where LibCoop is served over HTTPS.
What a reverse proxy adds on top is in docs/deploy.md.
"""

import secrets
from typing import Any

from litestar.datastructures import MutableScopeHeaders
from litestar.types import Message, Scope
from markupsafe import Markup

NONCE_KEY = "csp_nonce"


def policy(nonce: str, *, relaxed_styles: bool = False) -> str:
    # RapiDoc, the API reference (a web component of the vendored bundle), sets style attributes as it draws.
    styles = "'self' 'unsafe-inline'" if relaxed_styles else f"'self' 'nonce-{nonce}'"
    return "; ".join(
        [
            "default-src 'self'",
            "script-src 'self'",
            f"style-src {styles}",
            "img-src 'self' data: blob:",
            "font-src 'self' data:",
            "connect-src 'self'",
            "object-src 'none'",
            "base-uri 'none'",
            "form-action 'self'",
            "frame-ancestors 'none'",
        ]
    )


def security_headers(*, hsts: bool, reference_path: str) -> Any:
    """A `before_send` hook for `Litestar(before_send=[...])`: it sees every answer, error pages and 404s included."""
    reference = reference_path.rstrip("/")

    async def hook(message: Message, scope: Scope) -> None:
        if message["type"] != "http.response.start":
            return
        headers = MutableScopeHeaders.from_message(message)
        # The API reference draws with style attributes; the portal's map is an image whose shapes pygal styles inline.
        relaxed = scope["path"].rstrip("/") in (reference, "/portal/map.svg")
        headers["content-security-policy"] = policy(_nonce(scope), relaxed_styles=relaxed)
        headers["x-frame-options"] = "DENY"
        headers["x-content-type-options"] = "nosniff"
        headers["referrer-policy"] = "same-origin"
        headers["cross-origin-opener-policy"] = "same-origin"
        headers["permissions-policy"] = "camera=(), microphone=(), geolocation=(), payment=()"
        if hsts:
            headers["strict-transport-security"] = "max-age=31536000; includeSubDomains"

    return hook


def _nonce(scope: Any) -> str:
    state = scope.setdefault("state", {})
    if NONCE_KEY not in state:
        state[NONCE_KEY] = secrets.token_urlsafe(16)
    return str(state[NONCE_KEY])


def with_nonce(html: str, request: Any) -> Markup:
    """Jinja filter: the `<style>` elements of trusted markup we drew (a pygal chart) carry this response's nonce."""
    return Markup(str(html).replace("<style", f'<style nonce="{nonce_of(request)}"'))


def nonce_of(request: Any) -> str:
    """This response's CSP nonce, for a template's `<style nonce>`: made on first use, sent in the header."""
    return _nonce(request.scope) if request is not None else ""
