"""OpenID Connect sign-in for partner institutions (authorization code + PKCE S256), per the spec.

The flow's secrets (state, nonce, PKCE verifier) live in a pre-sign-in server-side session bound to
the browser's cookie, are single-use (removed before anything else is done with the response) and
expire after ten minutes. The ID token is checked for signature (algorithm allowlist, JWKS refetched
once on an unknown key id), issuer, audience, azp, expiry/issued-at/not-before with a small leeway,
and nonce. Users are found by (issuer, subject); an e-mail links to an existing account only when the
provider says it is verified and it is in one of the provider's allowed domains.
"""

import secrets
import uuid
from dataclasses import dataclass
from datetime import timedelta
from hmac import compare_digest
from typing import Any
from urllib.parse import urlencode

import httpx2 as httpx  # the HTTP client authlib uses; same API as httpx
import msgspec
from authlib.integrations.base_client.errors import OAuthError
from authlib.integrations.httpx_client import AsyncOAuth2Client
from authlib.oauth2.rfc6749.errors import OAuth2Error
from authlib.oidc.core import CodeIDToken
from joserfc import jwt
from joserfc.errors import JoseError
from joserfc.jwk import KeySet
from joserfc.jws import extract_compact
from sqlalchemy import select
from sqlalchemy.ext.asyncio import AsyncSession
from sqlmodel import col

from cooperation import audit, i18n
from cooperation.auth import crypto
from cooperation.auth.access import Principal, Role, require_admin
from cooperation.auth.models import AuthSession, IdentityProvider, User, UserIdentity
from cooperation.auth.services import token_digest
from cooperation.db import utcnow
from cooperation.errors import ConflictError, NotFoundError, ValidationFailed
from cooperation.i18n import N_
from cooperation.partners.models import Institution
from cooperation.records import changes_between, nfc, update_versioned

# Asymmetric algorithms only: never "none", never HS* (a public key must not become an HMAC secret).
ALLOWED_ALGORITHMS = ["RS256", "RS384", "RS512", "PS256", "PS384", "PS512", "ES256", "ES384", "ES512", "EdDSA"]
FLOW_TTL = timedelta(minutes=10)
LEEWAY_SECONDS = 60
HTTP_TIMEOUT = 10.0


class SsoRefused(Exception):
    """A sign-in that must not complete: `message` is for the person, `reason` for the audit trail."""

    def __init__(self, message: str, reason: str) -> None:
        super().__init__(reason)
        self.message = message
        self.reason = reason


class ProviderIn(msgspec.Struct, forbid_unknown_fields=True):
    institution_id: uuid.UUID
    issuer: str
    client_id: str
    client_secret: str | None = None  # required when registering; omitted on update keeps the stored one
    scopes: str = "openid email profile"
    allowed_email_domains: list[str] = []
    role_claim: str | None = None
    role_mapping: dict[str, Role] = {}
    default_role: Role = Role.PARTNER
    enabled: bool = True


class ProviderOut(msgspec.Struct):
    id: uuid.UUID
    institution_id: uuid.UUID
    institution_code: str
    institution_name: str
    issuer: str
    client_id: str
    scopes: str
    allowed_email_domains: list[str]
    role_claim: str | None
    role_mapping: dict[str, str]
    default_role: str
    enabled: bool
    redirect_path: str
    version: int


class ProviderChoice(msgspec.Struct):
    code: str
    name: str
    name_native: str | None


@dataclass(frozen=True)
class Started:
    authorization_url: str
    session_token: str
    max_age: int


def http_client() -> httpx.AsyncClient:
    return httpx.AsyncClient(timeout=HTTP_TIMEOUT, follow_redirects=False)


def redirect_path(code: str) -> str:
    """Each provider has its own redirect URI, so a response can only complete its own provider's flow."""
    return f"/auth/sso/{code}/callback"


# ---- discovery and keys ---------------------------------------------------------------------------


async def fetch_discovery(http: httpx.AsyncClient, issuer: str) -> dict[str, Any]:
    url = issuer.rstrip("/") + "/.well-known/openid-configuration"
    try:
        response = await http.get(url)
        response.raise_for_status()
        document = response.json()
    except (httpx.HTTPError, ValueError) as exc:
        raise ValidationFailed({"issuer": i18n.gettext("could not read %(url)s: %(error)s", url=url, error=exc)}) from exc
    if document.get("issuer") != issuer:
        raise ValidationFailed(
            {
                "issuer": i18n.gettext(
                    "the provider says its issuer is %(found)s, not %(expected)s (must match exactly)",
                    found=repr(document.get("issuer")),
                    expected=repr(issuer),
                )
            }
        )
    missing = [k for k in ("authorization_endpoint", "token_endpoint", "jwks_uri") if not document.get(k)]
    if missing:
        raise ValidationFailed({"issuer": i18n.gettext("the discovery document lacks %(fields)s", fields=", ".join(missing))})
    if "S256" not in document.get("code_challenge_methods_supported", ["S256"]):
        raise ValidationFailed({"issuer": i18n.gettext("the provider does not support PKCE with S256")})
    return dict(document)


async def fetch_jwks(http: httpx.AsyncClient, jwks_uri: str) -> dict[str, Any]:
    try:
        response = await http.get(jwks_uri)
        response.raise_for_status()
        keys = response.json()
        KeySet.import_key_set(keys)
    except (httpx.HTTPError, ValueError, JoseError) as exc:
        raise ValidationFailed(
            {"issuer": i18n.gettext("could not read the provider's keys at %(url)s: %(error)s", url=jwks_uri, error=exc)}
        ) from exc
    return dict(keys)


# ---- administration -------------------------------------------------------------------------------


def _provider_out(provider: IdentityProvider, institution: Institution) -> ProviderOut:
    return ProviderOut(
        id=provider.id,
        institution_id=institution.id,
        institution_code=institution.code,
        institution_name=institution.name,
        issuer=provider.issuer,
        client_id=provider.client_id,
        scopes=provider.scopes,
        allowed_email_domains=list(provider.allowed_email_domains),
        role_claim=provider.role_claim,
        role_mapping=dict(provider.role_mapping),
        default_role=provider.default_role,
        enabled=provider.enabled,
        redirect_path=redirect_path(institution.code),
        version=provider.version,
    )


async def list_providers(session: AsyncSession, principal: Principal) -> list[ProviderOut]:
    require_admin(principal, N_("manage identity providers"))
    rows = await session.execute(
        select(IdentityProvider, Institution)
        .join(Institution, col(Institution.id) == col(IdentityProvider.institution_id))
        .order_by(col(Institution.code))
    )
    return [_provider_out(row[0], row[1]) for row in rows.all()]


async def get_provider(session: AsyncSession, principal: Principal, provider_id: uuid.UUID) -> ProviderOut:
    require_admin(principal, N_("manage identity providers"))
    row = (
        await session.execute(
            select(IdentityProvider, Institution)
            .join(Institution, col(Institution.id) == col(IdentityProvider.institution_id))
            .where(col(IdentityProvider.id) == provider_id)
        )
    ).first()
    if row is None:
        raise NotFoundError("identity provider")
    return _provider_out(row[0], row[1])


async def _checked(session: AsyncSession, data: ProviderIn) -> tuple[Institution, dict[str, Any]]:
    errors: dict[str, str] = {}
    institution = await session.get(Institution, data.institution_id)
    if institution is None or institution.archived_at is not None:
        errors["institution_id"] = i18n.gettext("no such institution")
    if not data.issuer.startswith(("https://", "http://127.0.0.1", "http://localhost")):
        errors["issuer"] = i18n.gettext("must be an https:// URL")
    if "openid" not in data.scopes.split():
        errors["scopes"] = i18n.gettext("must include openid")
    domains = [d.strip().lower().lstrip("@") for d in data.allowed_email_domains if d.strip()]
    if institution is not None and not institution.is_home:
        granted = {role for role in data.role_mapping.values() if role is not Role.PARTNER}
        if data.default_role is not Role.PARTNER or granted:
            errors["role_mapping"] = i18n.gettext("a partner institution's provider can only grant the partner role")
    if errors:
        raise ValidationFailed(errors)
    assert institution is not None
    return institution, {
        "issuer": data.issuer.strip(),
        "client_id": data.client_id.strip(),
        "scopes": " ".join(data.scopes.split()),
        "allowed_email_domains": domains,
        "role_claim": (data.role_claim or "").strip() or None,
        "role_mapping": {k: v.value for k, v in data.role_mapping.items()},
        "default_role": data.default_role.value,
        "enabled": data.enabled,
    }


async def _issuer_free(session: AsyncSession, issuer: str, provider_id: uuid.UUID | None) -> None:
    """One issuer speaks for one institution: a second registration of it would let either institution's sign-in
    reach the other's accounts."""
    same = {issuer, issuer.rstrip("/"), issuer.rstrip("/") + "/"}
    taken = (
        await session.execute(
            select(col(Institution.code))
            .join(IdentityProvider, col(IdentityProvider.institution_id) == col(Institution.id))
            .where(col(IdentityProvider.issuer).in_(same), col(IdentityProvider.id) != (provider_id or uuid.UUID(int=0)))
        )
    ).scalar()
    if taken is not None:
        raise ConflictError(
            i18n.gettext(
                "%(issuer)s is already the identity provider of %(code)s; one issuer speaks for one institution.", issuer=issuer, code=taken
            ),
            errors={"issuer": i18n.gettext("already registered for %(code)s", code=taken)},
        )


async def register_provider(
    session: AsyncSession, principal: Principal | None, secret_key: crypto.Keys, data: ProviderIn, http: httpx.AsyncClient
) -> uuid.UUID:
    """`principal` None: the server's operator, through `coop sso add`."""
    if principal is not None:
        require_admin(principal, N_("register identity providers"))
    institution, values = await _checked(session, data)
    if not data.client_secret:
        raise ValidationFailed({"client_secret": i18n.gettext("is required")})
    if await session.scalar(select(col(IdentityProvider.id)).where(col(IdentityProvider.institution_id) == institution.id)):
        raise ValidationFailed(
            {"institution_id": i18n.gettext("%(code)s already has an identity provider; edit it instead", code=institution.code)}
        )
    await _issuer_free(session, values["issuer"], None)
    discovery = await fetch_discovery(http, values["issuer"])
    jwks = await fetch_jwks(http, discovery["jwks_uri"])
    provider = IdentityProvider(
        institution_id=institution.id,
        client_secret_encrypted=crypto.encrypt(secret_key, data.client_secret),
        discovery=discovery,
        jwks=jwks,
        jwks_fetched_at=utcnow(),
        **values,
    )
    session.add(provider)
    await session.flush()
    audit.record(
        session,
        principal,
        "register_provider",
        "identity_provider",
        provider.id,
        summary=f"Identity provider {values['issuer']} for {institution.code}",
        changes={k: [None, v] for k, v in values.items()},
    )
    await session.commit()
    return provider.id


async def update_provider(
    session: AsyncSession,
    principal: Principal,
    secret_key: crypto.Keys,
    provider_id: uuid.UUID,
    data: ProviderIn,
    version: int,
    http: httpx.AsyncClient,
) -> None:
    require_admin(principal, N_("change identity providers"))
    provider = await session.get(IdentityProvider, provider_id)
    if provider is None:
        raise NotFoundError("identity provider")
    institution, values = await _checked(session, data)
    if institution.id != provider.institution_id:
        raise ValidationFailed({"institution_id": i18n.gettext("a provider stays with its institution; register a new one instead")})
    await _issuer_free(session, values["issuer"], provider.id)
    before = {k: getattr(provider, k) for k in values}
    if values["issuer"] != provider.issuer or values["enabled"]:
        values["discovery"] = await fetch_discovery(http, values["issuer"])
        values["jwks"] = await fetch_jwks(http, values["discovery"]["jwks_uri"])
        values["jwks_fetched_at"] = utcnow()
    if data.client_secret:
        values["client_secret_encrypted"] = crypto.encrypt(secret_key, data.client_secret)
    await update_versioned(session, IdentityProvider, provider_id, version, values, what="identity provider")
    changes = changes_between(before, {k: v for k, v in values.items() if k in before})
    if data.client_secret:
        changes["client_secret"] = ["…", "(changed)"]
    audit.record(
        session,
        principal,
        "update_provider",
        "identity_provider",
        provider_id,
        summary=f"Identity provider of {institution.code} changed",
        changes=changes,
    )
    await session.commit()


async def enabled_choices(session: AsyncSession) -> list[ProviderChoice]:
    rows = await session.execute(
        select(col(Institution.code), col(Institution.name), col(Institution.name_native))
        .join(IdentityProvider, col(IdentityProvider.institution_id) == col(Institution.id))
        .where(col(IdentityProvider.enabled).is_(True), col(Institution.archived_at).is_(None))
        .order_by(col(Institution.name))
    )
    return [ProviderChoice(*row) for row in rows]


async def _provider_by_code(session: AsyncSession, code: str) -> tuple[IdentityProvider, Institution] | None:
    row = (
        await session.execute(
            select(IdentityProvider, Institution)
            .join(Institution, col(Institution.id) == col(IdentityProvider.institution_id))
            .where(col(Institution.code) == code.upper())
        )
    ).first()
    return (row[0], row[1]) if row else None


# ---- the flow -------------------------------------------------------------------------------------


async def start(session: AsyncSession, code: str, *, redirect_uri: str, invitation: str | None = None) -> Started:
    """`invitation`: the token of an invitation the person follows by signing in here rather than choosing a password."""
    found = await _provider_by_code(session, code)
    if found is None or not found[0].enabled or found[1].archived_at is not None:
        raise SsoRefused(
            i18n.gettext("Sign-in with this institution's account is not available."), f"provider {code!r} unknown or disabled"
        )
    provider, institution = found
    invitation_id = None
    if invitation:
        from cooperation.auth.accounts import pending
        from cooperation.errors import NotFoundError as Gone

        try:
            invited = await pending(session, invitation)
        except Gone:
            raise SsoRefused(
                i18n.gettext("This invitation was used, revoked or has expired: ask for a new one."), "invitation not open"
            ) from None
        if invited.institution_id != institution.id:
            raise SsoRefused(
                i18n.gettext("This invitation is for another institution."), f"invitation for {invited.institution_code} at {code}"
            )
        invitation_id = str(invited.id)
    state, nonce, verifier = secrets.token_urlsafe(32), secrets.token_urlsafe(32), secrets.token_urlsafe(64)
    client = AsyncOAuth2Client(client_id=provider.client_id, scope=provider.scopes, redirect_uri=redirect_uri, code_challenge_method="S256")
    url, _ = client.create_authorization_url(provider.discovery["authorization_endpoint"], state=state, nonce=nonce, code_verifier=verifier)
    now = utcnow()
    flow = {
        "code": institution.code,
        "issuer": provider.issuer,
        "state": state,
        "nonce": nonce,
        "verifier": verifier,
        "redirect_uri": redirect_uri,
        "started_at": now.isoformat(),
        "invitation_id": invitation_id,
    }
    # A fresh pre-sign-in record for every attempt, under its own cookie: a signed-in session this browser has is
    # left alone (a link from another site must not sign anyone out); a successful sign-in replaces it.
    token = secrets.token_urlsafe(32)
    session.add(AuthSession(token_hash=token_digest(token), user_id=None, created_at=now, expires_at=now + FLOW_TTL, data={"sso": flow}))
    await session.commit()
    return Started(authorization_url=url, session_token=token, max_age=int(FLOW_TTL.total_seconds()))


async def _take_flow(session: AsyncSession, token: str | None) -> dict[str, Any]:
    """The flow this browser started, removed at once: a state, nonce or code can be used only once."""
    if not token:
        raise SsoRefused(
            i18n.gettext("No sign-in was in progress in this browser. Start again from the sign-in page."), "no pre-sign-in session cookie"
        )
    pending = await session.scalar(
        select(AuthSession).where(col(AuthSession.token_hash) == token_digest(token), col(AuthSession.user_id).is_(None))
    )
    flow = dict(pending.data.get("sso") or {}) if pending is not None else {}
    if pending is None or not flow:
        raise SsoRefused(
            i18n.gettext("No sign-in was in progress in this browser, or it was already used. Start again."),
            "no pending flow (replayed or unknown)",
        )
    pending.data = {}
    await session.commit()
    expired = pending.expires_at < utcnow()
    if expired:
        raise SsoRefused(i18n.gettext("The sign-in took too long. Start again."), "flow expired")
    return flow


async def finish(
    session: AsyncSession, secret_key: crypto.Keys, code: str, params: dict[str, str], token: str | None, http: httpx.AsyncClient
) -> tuple[User, dict[str, Any]]:
    flow = await _take_flow(session, token)
    if flow.get("code") != code.upper():
        raise SsoRefused(
            i18n.gettext("This answer came back for a different institution than the one you chose. Start again."),
            f"mix-up: flow for {flow.get('code')} completed at the callback of {code}",
        )
    if "error" in params:
        raise SsoRefused(
            i18n.gettext(
                "Your institution's sign-in service refused: %(reason)s.", reason=params.get("error_description") or params["error"]
            ),
            f"provider error {params['error']}",
        )
    if not params.get("state") or not compare_digest(params["state"], flow["state"]):
        raise SsoRefused(i18n.gettext("The sign-in answer does not match the request this browser made. Start again."), "state mismatch")
    found = await _provider_by_code(session, code)
    if found is None or not found[0].enabled:
        raise SsoRefused(i18n.gettext("Sign-in with this institution's account is not available."), "provider disabled during the flow")
    provider, institution = found
    if provider.issuer != flow["issuer"]:
        raise SsoRefused(
            i18n.gettext("The institution's sign-in settings changed during your sign-in. Start again."), "issuer changed during the flow"
        )
    advertised = bool(provider.discovery.get("authorization_response_iss_parameter_supported"))
    if (advertised or "iss" in params) and params.get("iss") != provider.issuer:
        raise SsoRefused(
            i18n.gettext("The sign-in answer came from a different service than expected."),
            f"RFC 9207 iss {params.get('iss')!r} != {provider.issuer!r}",
        )
    if not params.get("code"):
        raise SsoRefused(i18n.gettext("The sign-in answer carried no authorization code."), "no code")
    client = AsyncOAuth2Client(
        client_id=provider.client_id,
        client_secret=crypto.decrypt(secret_key, provider.client_secret_encrypted),
        redirect_uri=flow["redirect_uri"],
        code_challenge_method="S256",
        timeout=HTTP_TIMEOUT,
    )
    try:
        tokens = await client.fetch_token(provider.discovery["token_endpoint"], code=params["code"], code_verifier=flow["verifier"])
    except (OAuth2Error, OAuthError, httpx.HTTPError) as exc:
        raise SsoRefused(
            i18n.gettext("Your institution's sign-in service did not accept the sign-in (it may have been used already). Start again."),
            f"token endpoint refused: {exc}",
        ) from exc
    finally:
        await client.aclose()
    id_token = tokens.get("id_token")
    if not id_token:
        raise SsoRefused(i18n.gettext("Your institution's sign-in service sent no identity token."), "no id_token")
    claims = await validate_id_token(session, provider, id_token, nonce=flow["nonce"], access_token=tokens.get("access_token"), http=http)
    if flow.get("invitation_id"):
        from cooperation.auth.accounts import accept_through_provider
        from cooperation.errors import ServiceError

        email = str(claims.get("email") or "").strip().lower() or None
        try:
            user = await accept_through_provider(session, uuid.UUID(flow["invitation_id"]), provider.issuer, str(claims["sub"]), email)
        except ServiceError as exc:
            raise SsoRefused(exc.detail, f"invitation not accepted: {exc.detail}") from None
        return user, {"code": institution.code, "id_token": id_token}
    user = await user_for(session, provider, institution, claims)
    return user, {"code": institution.code, "id_token": id_token}


async def validate_id_token(
    session: AsyncSession, provider: IdentityProvider, id_token: str, *, nonce: str, access_token: str | None, http: httpx.AsyncClient
) -> dict[str, Any]:
    try:
        header = extract_compact(id_token.encode()).protected
    except (JoseError, ValueError) as exc:
        raise SsoRefused(i18n.gettext("The identity token is malformed."), f"malformed id_token: {exc}") from exc
    if header.get("alg") not in ALLOWED_ALGORITHMS:
        raise SsoRefused(
            i18n.gettext("The identity token is signed with an algorithm LibCoop does not accept."),
            f"algorithm {header.get('alg')!r} not allowed",
        )
    keys = KeySet.import_key_set(provider.jwks)  # type: ignore[arg-type]
    kid = header.get("kid")
    if kid is not None and not any(key.kid == kid for key in keys.keys):
        # The provider may have rotated its keys: fetch them again, once.
        provider.jwks = await fetch_jwks(http, provider.discovery["jwks_uri"])
        provider.jwks_fetched_at = utcnow()
        await session.commit()
        keys = KeySet.import_key_set(provider.jwks)  # type: ignore[arg-type]
        if not any(key.kid == kid for key in keys.keys):
            raise SsoRefused(
                i18n.gettext("The identity token is signed with a key your institution does not publish."),
                f"unknown key id {kid!r} after refetch",
            )
    try:
        token = jwt.decode(id_token, keys, algorithms=ALLOWED_ALGORITHMS)
        claims = CodeIDToken(
            token.claims,
            token.header,
            options={
                "iss": {"essential": True, "value": provider.issuer},
                "aud": {"essential": True, "value": provider.client_id},
                "sub": {"essential": True},
                "nonce": {"essential": True, "value": nonce},
            },
            params={"nonce": nonce, "client_id": provider.client_id, "access_token": access_token},
        )
        claims.validate(leeway=LEEWAY_SECONDS)
    except (JoseError, ValueError) as exc:
        raise SsoRefused(
            i18n.gettext("The identity token could not be verified. Start again, or ask your institution's IT."),
            f"id_token rejected: {exc}",
        ) from exc
    return dict(claims)


def _role_from(provider: IdentityProvider, institution: Institution, claims: dict[str, Any]) -> Role:
    values = claims.get(provider.role_claim) if provider.role_claim else None
    values = [values] if isinstance(values, str) else list(values or [])
    granted = [Role(provider.role_mapping[v]) for v in values if v in provider.role_mapping]
    order = [Role.ADMIN, Role.COORDINATOR, Role.DIRECTOR, Role.PARTNER]
    role = min(granted, key=order.index) if granted else Role(provider.default_role)
    return role if institution.is_home else Role.PARTNER  # a partner's provider never grants more


async def user_for(session: AsyncSession, provider: IdentityProvider, institution: Institution, claims: dict[str, Any]) -> User:
    subject = str(claims["sub"])
    role = _role_from(provider, institution, claims)
    identity = await session.scalar(
        select(UserIdentity).where(col(UserIdentity.issuer) == provider.issuer, col(UserIdentity.subject) == subject)
    )
    email = str(claims.get("email") or "").strip().lower() or None
    domain = email.rsplit("@", 1)[-1] if email and "@" in email else None
    email_trusted = bool(email) and claims.get("email_verified") is True and domain in provider.allowed_email_domains
    name = nfc(str(claims.get("name") or email or subject))[:200]
    user: User | None = None
    if identity is not None:
        user = await session.get(User, identity.user_id)
        if user is not None and user.institution_id != institution.id:
            # An account is bound to the institution whose provider created it: another institution's provider,
            # even with the same issuer and subject, never signs into it.
            raise SsoRefused(
                i18n.gettext("This account belongs to another institution's sign-in. Ask the cooperation department."),
                f"identity {provider.issuer} {subject} belongs to an account of another institution than {institution.code}",
            )
    elif email_trusted:
        candidate = await session.scalar(select(User).where(col(User.email) == email))
        if candidate is not None and candidate.institution_id == institution.id:
            user = candidate  # the same person's existing LibCoop account, linked by a verified address
    if user is None:
        taken = email is not None and (await session.scalar(select(col(User.id)).where(col(User.email) == email))) is not None
        address = email if email and email_trusted and not taken else f"{uuid.uuid4().hex}@sso.invalid"
        user = User(email=address, name=name, role=role.value, institution_id=institution.id, password_hash=None)
        session.add(user)
        await session.flush()
        audit.record(session, None, "create", "user", user.id, summary=f"Account created at first sign-in through {institution.code}")
    if identity is None:
        identity = UserIdentity(user_id=user.id, issuer=provider.issuer, subject=subject, email=email)
        session.add(identity)
    if not user.active or user.archived_at is not None:
        await session.commit()
        raise SsoRefused(
            i18n.gettext("Your LibCoop account is deactivated. Ask the cooperation department."), f"user {user.id} is deactivated"
        )
    identity.last_used_at = utcnow()
    if user.institution_id == institution.id and user.role != role.value and user.password_hash is None:
        user.role = role.value  # roles follow the provider's groups at each sign-in
    await session.flush()
    return user


def end_session_url(provider_discovery: dict[str, Any], id_token: str, post_logout_redirect_uri: str) -> str | None:
    endpoint = provider_discovery.get("end_session_endpoint")
    if not endpoint:
        return None
    return f"{endpoint}?{urlencode({'id_token_hint': id_token, 'post_logout_redirect_uri': post_logout_redirect_uri})}"


async def discovery_for_code(session: AsyncSession, code: str) -> dict[str, Any] | None:
    found = await _provider_by_code(session, code)
    return dict(found[0].discovery) if found else None


async def set_enabled(session: AsyncSession, principal: Principal, provider_id: uuid.UUID, *, enabled: bool, version: int) -> None:
    require_admin(principal, N_("enable or disable identity providers"))
    provider = await session.get(IdentityProvider, provider_id)
    if provider is None:
        raise NotFoundError("identity provider")
    await update_versioned(session, IdentityProvider, provider_id, version, {"enabled": enabled}, what="identity provider")
    audit.record(
        session,
        principal,
        "enable_provider" if enabled else "disable_provider",
        "identity_provider",
        provider_id,
        summary=f"Sign-in through {provider.issuer} {'enabled' if enabled else 'disabled'}",
    )
    await session.commit()
