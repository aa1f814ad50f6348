"""JSON API for administrators: identity providers of partner institutions (under /api/v1)."""

import uuid

import msgspec
from litestar import Controller, Request, get, patch, post, put
from litestar.di import NamedDependency
from litestar.params import FromPath, FromQuery, JSONBody
from sqlalchemy.ext.asyncio import AsyncSession

from cooperation.auth import accounts, limits, sso, tokens
from cooperation.auth.access import Principal, Role
from cooperation.web import PageNumber, PerPage, public_base


class ProviderUpdate(sso.ProviderIn, forbid_unknown_fields=True):
    version: int = 0


class ProviderEnabledIn(msgspec.Struct, forbid_unknown_fields=True):
    enabled: bool
    version: int


class IdentityProviderApi(Controller):
    path = "/api/v1/identity-providers"
    tags = ("identity providers",)

    @get("/", name="api_identity_providers")
    async def list_providers(self, db: NamedDependency[AsyncSession], principal: NamedDependency[Principal]) -> list[sso.ProviderOut]:
        """Every institution's OpenID provider (administrators only). Client secrets are never returned."""
        return await sso.list_providers(db, principal)

    @post("/", name="api_identity_provider_create")
    async def register(
        self, request: Request, db: NamedDependency[AsyncSession], principal: NamedDependency[Principal], data: JSONBody[sso.ProviderIn]
    ) -> sso.ProviderOut:
        """Register an institution's provider: discovery is fetched and its issuer must equal `issuer` exactly."""
        async with sso.http_client() as http:
            provider_id = await sso.register_provider(db, principal, request.app.state.settings.secret_keys, data, http)
        return await sso.get_provider(db, principal, provider_id)

    @get("/{provider_id:uuid}", name="api_identity_provider")
    async def get_provider(
        self, db: NamedDependency[AsyncSession], principal: NamedDependency[Principal], provider_id: FromPath[uuid.UUID]
    ) -> sso.ProviderOut:
        """One institution's OpenID Connect provider (administrators; the client secret is never returned)."""
        return await sso.get_provider(db, principal, provider_id)

    @put("/{provider_id:uuid}", name="api_identity_provider_update")
    async def update(
        self,
        request: Request,
        db: NamedDependency[AsyncSession],
        principal: NamedDependency[Principal],
        provider_id: FromPath[uuid.UUID],
        data: JSONBody[ProviderUpdate],
    ) -> sso.ProviderOut:
        """Change a provider; omit `client_secret` to keep the stored one. Enabling re-fetches discovery and keys."""
        async with sso.http_client() as http:
            await sso.update_provider(db, principal, request.app.state.settings.secret_keys, provider_id, data, data.version, http)
        return await sso.get_provider(db, principal, provider_id)

    @post("/{provider_id:uuid}/enabled", name="api_identity_provider_enabled", status_code=200)
    async def set_enabled(
        self,
        db: NamedDependency[AsyncSession],
        principal: NamedDependency[Principal],
        provider_id: FromPath[uuid.UUID],
        data: JSONBody[ProviderEnabledIn],
    ) -> sso.ProviderOut:
        """Turn sign-in through this provider on or off (off: its people cannot sign in, flows under way fail)."""
        await sso.set_enabled(db, principal, provider_id, enabled=data.enabled, version=data.version)
        return await sso.get_provider(db, principal, provider_id)


class TokenApi(Controller):
    path = "/api/v1/tokens"
    tags = ("api tokens",)

    @get("/", name="api_tokens")
    async def list_tokens(self, db: NamedDependency[AsyncSession], principal: NamedDependency[Principal]) -> list[tokens.TokenOut]:
        """Your personal API tokens (their secrets are never shown again)."""
        return await tokens.list_own(db, principal)

    @post("/", name="api_token_create")
    async def create_token(
        self, request: Request, db: NamedDependency[AsyncSession], principal: NamedDependency[Principal], data: JSONBody[tokens.TokenIn]
    ) -> tokens.NewToken:
        """Create a token (from a signed-in session). The response holds the secret `token`, this once.
        Send it as `Authorization: Bearer …`; a `read` token may only read."""
        await limits.hit(db, f"token:user:{principal.user_id}", limit=limits.TOKENS[0], window_seconds=limits.TOKENS[1])
        return await tokens.create(db, principal, data)

    @post("/{token_id:uuid}/revoke", name="api_token_revoke", status_code=204)
    async def revoke_token(
        self, db: NamedDependency[AsyncSession], principal: NamedDependency[Principal], token_id: FromPath[uuid.UUID]
    ) -> None:
        """Revoke one of your API tokens; it stops working at once."""
        await tokens.revoke(db, principal, token_id)


def base_url(request: Request) -> str:
    """Where invitation links point (web.public_base)."""
    return public_base(request)


class UserApi(Controller):
    path = "/api/v1/users"
    tags = ("accounts",)

    @get("/", name="api_users")
    async def list_users(
        self,
        db: NamedDependency[AsyncSession],
        principal: NamedDependency[Principal],
        q: FromQuery[str | None] = None,
        role: FromQuery[Role | None] = None,
        institution_id: FromQuery[uuid.UUID | None] = None,
        active: FromQuery[bool | None] = None,
        page: PageNumber = 1,
        per_page: PerPage = 50,
        sort: FromQuery[str | None] = None,
    ) -> accounts.UserPage:
        """Every account (administrators only): name, e-mail, role, institution, how they sign in, last sign-in,
        active. `q` searches names and e-mail addresses."""
        return await accounts.list_users(
            db, principal, q=q, role=role, institution_id=institution_id, active=active, page=page, per_page=per_page, sort=sort
        )

    @get("/{user_id:uuid}", name="api_user")
    async def get_user(
        self, db: NamedDependency[AsyncSession], principal: NamedDependency[Principal], user_id: FromPath[uuid.UUID]
    ) -> accounts.UserRow:
        """One account (administrators only)."""
        return await accounts.get_user(db, principal, user_id)

    @patch("/{user_id:uuid}", name="api_user_update")
    async def change_user(
        self,
        db: NamedDependency[AsyncSession],
        principal: NamedDependency[Principal],
        user_id: FromPath[uuid.UUID],
        data: JSONBody[accounts.UserChange],
    ) -> accounts.UserRow:
        """Change an account's role, institution, name, or deactivate/reactivate it. A change of role, institution or
        activity ends its sessions at once; deactivation also revokes its API tokens. The last active administrator
        cannot be deactivated or demoted (409)."""
        await accounts.change_user(db, principal, user_id, data)
        return await accounts.get_user(db, principal, user_id)


class InvitationApi(Controller):
    path = "/api/v1/invitations"
    tags = ("accounts",)

    @get("/", name="api_invitations")
    async def list_invitations(
        self, db: NamedDependency[AsyncSession], principal: NamedDependency[Principal]
    ) -> list[accounts.InvitationOut]:
        """Invitations not yet accepted or revoked, newest first (administrators only)."""
        return await accounts.list_invitations(db, principal)

    @post("/", name="api_invitation_create")
    async def invite(
        self, request: Request, db: NamedDependency[AsyncSession], principal: NamedDependency[Principal], data: JSONBody[accounts.InviteIn]
    ) -> accounts.InvitationOut:
        """Invite someone: coordinators, directors and administrators belong to the home institution, a partner
        librarian to `institution_id`. The one-time link (72 hours) is e-mailed and returned once in `link`."""
        return await accounts.invite(db, principal, request.app.state.settings, base_url(request), data)

    @post("/{invitation_id:uuid}/resend", name="api_invitation_resend", status_code=200)
    async def resend(
        self, request: Request, db: NamedDependency[AsyncSession], principal: NamedDependency[Principal], invitation_id: FromPath[uuid.UUID]
    ) -> accounts.InvitationOut:
        """A new link for an open invitation (the previous one stops working), e-mailed and returned once."""
        return await accounts.resend(db, principal, request.app.state.settings, base_url(request), invitation_id)

    @post("/{invitation_id:uuid}/revoke", name="api_invitation_revoke", status_code=200)
    async def revoke(
        self, db: NamedDependency[AsyncSession], principal: NamedDependency[Principal], invitation_id: FromPath[uuid.UUID]
    ) -> accounts.InvitationOut:
        """Withdraw an open invitation: its link stops working."""
        return await accounts.revoke(db, principal, invitation_id)


routes = [IdentityProviderApi, TokenApi, UserApi, InvitationApi]
