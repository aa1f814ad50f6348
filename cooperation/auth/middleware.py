"""Default deny: every request must carry a live session, except routes marked public in app.py.

The middleware opens the request's database session, looks the principal up with it, and leaves it
in the connection state for the `db` dependency: one session and one pooled connection per request.
"""

from typing import Any

from litestar.connection import ASGIConnection
from litestar.exceptions import NotAuthorizedException, PermissionDeniedException
from litestar.middleware import AbstractAuthenticationMiddleware, AuthenticationResult
from litestar.middleware._utils import should_bypass_middleware
from litestar.middleware.csrf import CSRFMiddleware
from litestar.types import Receive, Scope, Send

from cooperation.auth.services import principal_for_token
from cooperation.auth.tokens import principal_for_bearer
from cooperation.i18n import N_

SESSION_COOKIE = "coop_session"
PUBLIC_OPT = "public"
# What a session that must set up two-factor sign-in first may reach (COOP_REQUIRE_2FA_ADMIN).
ENROLL_PATHS = ("/account/two-factor", "/logout")


# What a session viewing pages as a partner may still post: leave that view, sign out, switch the language.
VIEWING_PATHS = ("/view-as", "/logout", "/language")


class ViewingOnly(PermissionDeniedException):
    """A write while viewing as a partner: refused, and said in the reader's language by the app's handler."""

    def __init__(self, label: str) -> None:
        super().__init__(detail=N_("You are viewing as %(partner)s: nothing can be changed."))
        self.label = label


class EnrollFirst(PermissionDeniedException):
    def __init__(self) -> None:
        super().__init__(detail=N_("Set up two-factor sign-in first: administrators are required to use it here."))


REQUEST_SESSION_KEY = "coop_db_session"


class SessionAuthenticationMiddleware(AbstractAuthenticationMiddleware):
    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if should_bypass_middleware(
            exclude_http_methods=self.exclude_http_methods,
            exclude_opt_key=self.exclude_opt_key,
            exclude_path_pattern=self.exclude,
            scope=scope,
            scopes=self.scopes,
        ):
            await self.app(scope, receive, send)
            return
        state = scope["litestar_app"].state
        # Reads (GET/HEAD never write) run without BEGIN/ROLLBACK round trips.
        factory = state.read_session_factory if scope.get("method") in ("GET", "HEAD") else state.session_factory
        async with factory() as session:
            scope.setdefault("state", {})[REQUEST_SESSION_KEY] = session
            try:
                result = await self.authenticate_request(ASGIConnection(scope))
                session.info.pop("committed", None)  # a token's "last used" is not the request's write (db.committed)
                if getattr(result.user, "enroll_only", False) and not scope["path"].startswith(ENROLL_PATHS):
                    raise EnrollFirst()
                viewing = getattr(result.user, "viewing_as", None)
                if viewing and scope.get("method") not in ("GET", "HEAD", "OPTIONS") and not scope["path"].startswith(VIEWING_PATHS):
                    raise ViewingOnly(viewing)
                scope["user"] = result.user
                scope["auth"] = result.auth
                await self.app(scope, receive, send)
            finally:
                scope["state"].pop(REQUEST_SESSION_KEY, None)
                if session.in_transaction():
                    await session.rollback()

    async def authenticate_request(self, connection: ASGIConnection[Any, Any, Any, Any]) -> AuthenticationResult:
        session = connection.scope["state"][REQUEST_SESSION_KEY]
        authorization = connection.headers.get("authorization", "")
        if authorization.lower().startswith("bearer "):
            # Scripts: a personal API token, for the JSON API only. Cookies are ignored on such requests.
            if not connection.url.path.startswith("/api/"):
                raise NotAuthorizedException("API tokens are accepted by the /api/v1 endpoints only.")
            found = await principal_for_bearer(session, authorization[7:].strip())
            if found is None:
                raise NotAuthorizedException("The API token is unknown, expired or revoked.")
            principal, scope = found
            if scope != "read_write" and connection.scope.get("method") not in ("GET", "HEAD", "OPTIONS"):
                raise PermissionDeniedException("This API token is read-only.")
            return AuthenticationResult(user=principal, auth=None)
        token = connection.cookies.get(SESSION_COOKIE)
        if token:
            signed_in = await principal_for_token(session, token)
            if signed_in is not None:
                return AuthenticationResult(user=signed_in, auth=token)
        raise NotAuthorizedException(N_("Sign in to continue."))


SIGNED_PREFIX = "/federation/"  # server-to-server requests: no cookie, no session; each is signed (cooperation/peers)


class CsrfUnlessBearer(CSRFMiddleware):
    """CSRF protects cookie-authenticated requests; a request authenticated by an API token carries no ambient
    credential. Only a token that was actually checked skips it: any `Authorization: Bearer …` header on a public
    route (the sign-in form) is not a reason to (this middleware runs after authentication). Requests between paired
    instances carry no ambient credential either: their signature is checked by the handler, cookies are ignored."""

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        signed = scope["type"] == "http" and scope["path"].startswith(SIGNED_PREFIX)
        if signed or (scope["type"] == "http" and getattr(scope.get("user"), "via_token", False)):
            await self.app(scope, receive, send)
            return
        await super().__call__(scope, receive, send)
