"""JSON API for administrators: identity providers of partner institutions (under /api/v1)."""

import uuid

import msgspec
from litestar import Controller, Request, get, post, put
from litestar.di import NamedDependency
from litestar.params import FromPath, JSONBody
from sqlalchemy.ext.asyncio import AsyncSession

from cooperation.auth import limits, sso, tokens
from cooperation.auth.access import Principal


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
            provider_id = await sso.register_provider(db, principal, request.app.state.settings.secret_key, data, http)
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
            await sso.update_provider(db, principal, request.app.state.settings.secret_key, provider_id, data, data.version, http)
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


routes = [IdentityProviderApi, TokenApi]
