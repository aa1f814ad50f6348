"""Default deny: every request must carry a live session, except routes marked public in app.py."""

from litestar.connection import ASGIConnection
from litestar.exceptions import NotAuthorizedException
from litestar.middleware import AbstractAuthenticationMiddleware, AuthenticationResult

from cooperation.auth.services import principal_for_token

SESSION_COOKIE = "coop_session"
PUBLIC_OPT = "public"


class SessionAuthenticationMiddleware(AbstractAuthenticationMiddleware):
    async def authenticate_request(self, connection: ASGIConnection) -> AuthenticationResult:
        token = connection.cookies.get(SESSION_COOKIE)
        if token:
            factory = connection.app.state.session_factory
            async with factory() as session:
                principal = await principal_for_token(session, token)
            if principal is not None:
                return AuthenticationResult(user=principal, auth=token)
        raise NotAuthorizedException("Sign in to continue.")
