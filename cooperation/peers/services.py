"""Pairing two LibCoop instances and the signed requests between them.

1. Each instance has an Ed25519 key (made on first use, kept encrypted with COOP_SECRET_KEY) and publishes its public
   half, its address and its home institution at `/.well-known/libcoop`.
2. The partner's administrator makes a one-time pairing code for our institution (valid a day, kept hashed) and gives
   it to ours; ours enters the partner's address and the code. Our instance reads the partner's well-known document,
   then sends it, signed with our key, the code, our address and our key; the partner checks the code (once), the
   signature by that key, and that our address publishes that key; then each side trusts the other's key for the
   institution it was paired for. Either side may unpair (audited); the other is told.
3. Every later request between them is signed (RFC 9421 HTTP Message Signatures: method, authority, path, query,
   the body's Content-Digest and the key id of the instance it is addressed to, with a creation time and a nonce),
   checked against the key of a paired instance, refused when older than five minutes, when its nonce was seen (a
   replay), or when it was addressed to another instance: a request one instance received, replayed at another
   instance paired with the same sender, names the first one's key and address, and the second refuses it.
   Outbound requests have timeouts and a size limit, and go only to paired instances (or, while pairing, to the
   address the administrator typed).
"""

import base64
import contextlib
import hashlib
import json
import re
import secrets
import uuid
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from typing import Any

from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey, Ed25519PublicKey
from http_message_signatures import HTTPMessageSigner, HTTPMessageVerifier, InvalidSignature, MappingKeyResolver, algorithms
from http_message_signatures.exceptions import HTTPMessageSignaturesException
from httpx2 import Headers
from sqlalchemy import delete, select, update
from sqlalchemy.exc import IntegrityError
from sqlalchemy.ext.asyncio import AsyncSession

from cooperation import audit, i18n, outbound
from cooperation.auth import crypto
from cooperation.auth.access import Principal, require_admin
from cooperation.db import table, utcnow
from cooperation.errors import ConflictError, NotFoundError, ServiceError, ValidationFailed
from cooperation.i18n import N_
from cooperation.partners.models import Institution
from cooperation.peers.models import InstanceKey, PairingCode, Peer, SeenNonce
from cooperation.settings import Settings

WELL_KNOWN = "/.well-known/libcoop"
KEY_PURPOSE = "libcoop/instance-signing-key/v1"
RECIPIENT = "libcoop-recipient"  # the key id of the instance a request is addressed to, signed with the rest
COVERED = ("@method", "@authority", "@path", "@query", "content-digest", RECIPIENT)
MAX_AGE = timedelta(minutes=5)
CODE_VALIDITY = timedelta(days=1)
DEADLINE = 15.0  # seconds for one exchange with another instance, connecting and answering included
MAX_RESPONSE_BYTES = 1_000_000
ADDRESS = re.compile(r"https?://[^\s/?#]+(/[^\s?#]*)?")  # an instance's address: scheme, host, perhaps a path
IK, PE, PC, SN, I = (table(m).c for m in (InstanceKey, Peer, PairingCode, SeenNonce, Institution))  # noqa: E741


class PeerRefused(ServiceError):
    """A server-to-server request that is not signed by a paired instance, or not as it should be (401)."""

    status_code = 401
    title = N_("Not a paired instance")
    slug = "not-paired"


class PeerUnreachable(ServiceError):
    """A paired instance that does not answer, or not with JSON (502: the fault is upstream, not in the request)."""

    status_code = 502
    title = N_("The other instance did not answer")
    slug = "peer-unreachable"


def _b64(raw: bytes) -> str:
    return base64.urlsafe_b64encode(raw).rstrip(b"=").decode()


def _unb64(text: str) -> bytes:
    return base64.urlsafe_b64decode(text + "=" * (-len(text) % 4))


def _fingerprint_matches(key_id: Any, public: Any) -> bool:
    """Whether `key_id` names this base64url Ed25519 key; anything malformed (not text, not base64) simply does not."""
    try:
        return isinstance(key_id, str) and key_id_of(_unb64(str(public))) == key_id
    except ValueError:
        return False


def key_id_of(public_raw: bytes) -> str:
    """A key's name: its fingerprint (the same on both sides, whatever either calls the other)."""
    return "ed25519-" + hashlib.sha256(public_raw).hexdigest()[:32]


def public_key_of(encoded: str) -> Ed25519PublicKey:
    try:
        return Ed25519PublicKey.from_public_bytes(_unb64(encoded))
    except ValueError as exc:
        raise ValidationFailed({"public_key": i18n.gettext("is not an Ed25519 public key")}) from exc


# ---- this instance's key -----------------------------------------------------------------------------------------


async def signing_key(session: AsyncSession, settings: Settings) -> tuple[str, Ed25519PrivateKey, str]:
    """(key id, private key, public key base64url): the newest key not retired, made on first use."""
    row = (
        await session.execute(
            select(IK.key_id, IK.private_key, IK.public_key).where(IK.retired_at.is_(None)).order_by(IK.created_at.desc()).limit(1)
        )
    ).first()
    if row is None:
        private = Ed25519PrivateKey.generate()
        raw = private.private_bytes_raw()
        public_raw = private.public_key().public_bytes_raw()
        sealed = crypto.encrypt(settings.secret_keys, _b64(raw), purpose=KEY_PURPOSE)
        session.add(InstanceKey(key_id=key_id_of(public_raw), public_key=_b64(public_raw), private_key=sealed))
        try:
            await session.commit()
        except IntegrityError:  # another request made one at the same instant: use the one stored
            await session.rollback()
        return await signing_key(session, settings)
    private = Ed25519PrivateKey.from_private_bytes(_unb64(crypto.decrypt(settings.secret_keys, row.private_key, purpose=KEY_PURPOSE)))
    return row.key_id, private, row.public_key


async def well_known(session: AsyncSession, settings: Settings, base_url: str) -> dict[str, Any]:
    """What another instance needs to pair with this one, public by design (no secret in it)."""
    key_id, _, public = await signing_key(session, settings)
    home = (await session.execute(select(I.code, I.name, I.name_native, I.country).where(I.is_home.is_(True)))).first()
    return {
        "software": "LibCoop",
        "protocol": 2,  # 2: a signature covers the authority and the recipient's key id
        "base_url": base_url,
        "institution": dict(home._mapping) if home else None,
        "keys": [{"id": key_id, "alg": "ed25519", "public_key": public}],
    }


# ---- signed messages -------------------------------------------------------------------------------------------


@dataclass
class _Message:
    """What the signing library reads of a request: method, absolute URL, headers."""

    method: str
    url: str
    headers: Headers  # case-insensitive, as the library expects


def sign(key_id: str, private: Ed25519PrivateKey, method: str, url: str, body: bytes, *, recipient: str) -> dict[str, str]:
    """The headers that sign this request to the instance whose key id is `recipient`, at `url`: Content-Digest, the
    recipient, Signature-Input and Signature (created now, a fresh nonce)."""
    message = _Message(method.upper(), url, Headers({"content-type": "application/json", RECIPIENT: recipient}))
    signer = HTTPMessageSigner(
        signature_algorithm=algorithms.ED25519, key_resolver=MappingKeyResolver(public_keys={}, private_keys={key_id: private})
    )
    signer.sign(message, key_id=key_id, nonce=secrets.token_urlsafe(18), covered_component_ids=COVERED, body=body, label="libcoop")
    return dict(message.headers)


def _key_id_in(headers: Any) -> str:
    found = re.search(r'keyid="([^"]{1,64})"', headers.get("signature-input", ""))
    if found is None:
        raise PeerRefused(i18n.gettext("The request is not signed (RFC 9421 Signature-Input with a keyid)."))
    return found.group(1)


async def verify(session: AsyncSession, method: str, url: str, headers: Any, body: bytes, *, key_id: str, public_key: str) -> None:
    """The signature by this key over method, authority, path, query, body and recipient, at most five minutes old,
    addressed to this instance (`url` is the request as this instance's own address names it; the recipient one of its
    keys), its nonce never seen."""
    message = _Message(method.upper(), url, Headers(list(headers.items())))
    resolver = MappingKeyResolver(public_keys={key_id: public_key_of(public_key)}, private_keys={})
    verifier = HTTPMessageVerifier(signature_algorithm=algorithms.ED25519, key_resolver=resolver)
    try:
        (result,) = verifier.verify(message, max_age=MAX_AGE, body=body, require_components=COVERED)
    except (InvalidSignature, HTTPMessageSignaturesException, ValueError) as exc:
        raise PeerRefused(i18n.gettext("The signature does not verify: %(reason)s", reason=str(exc)[:200])) from exc
    if result.parameters.get("keyid") != key_id or not result.nonce:
        raise PeerRefused(i18n.gettext("A signed request needs its key id and a nonce."))
    own = set(await session.scalars(select(IK.key_id).where(IK.retired_at.is_(None))))
    if headers.get(RECIPIENT) not in own:
        raise PeerRefused(i18n.gettext("This request is addressed to another instance."))
    # Nonces are kept as long as a signature could be accepted; older ones go as new ones come.
    await session.execute(delete(SeenNonce).where(SN.seen_at < utcnow() - 2 * MAX_AGE))
    session.add(SeenNonce(key_id=key_id, nonce=str(result.nonce)[:100]))
    try:
        await session.flush()
    except IntegrityError as exc:
        await session.rollback()
        raise PeerRefused(i18n.gettext("This message was already received (a replay).")) from exc


async def verify_peer(session: AsyncSession, method: str, url: str, headers: Any, body: bytes) -> Peer:
    """The paired instance that signed this request (its key must be one we trust now), or 401."""
    key_id = _key_id_in(headers)
    peer = (await session.execute(select(Peer).where(PE.key_id == key_id, PE.archived_at.is_(None)))).scalars().first()
    if peer is None:
        raise PeerRefused(i18n.gettext("No instance paired with this one signs with that key."))
    await verify(session, method, url, headers, body, key_id=key_id, public_key=peer.public_key)
    return peer


def _client(settings: Settings) -> outbound.Client:
    """The outbound client for one conversation with another instance (cooperation/outbound.py)."""
    return outbound.Client(settings, deadline=DEADLINE, max_bytes=MAX_RESPONSE_BYTES)


def proof(body: bytes, headers: Any) -> dict[str, str]:
    """A signed message as it crossed, kept as the proof of what was said: its body and signature headers (anyone with
    the sender's public key can check it again later)."""
    kept = {name: str(headers.get(name, "")) for name in ("content-digest", "signature-input", "signature")}
    return {"body": body.decode("utf-8", "replace"), **kept}


async def signed_exchange(
    session: AsyncSession, settings: Settings, peer: Peer, method: str, path: str, payload: Any
) -> tuple[int, Any, dict[str, str]]:
    """A signed request to a paired instance (and only to one): its status, decoded JSON answer, and the signed
    message sent (`proof`). A transport failure or an answer that is not JSON is a PeerUnreachable (502)."""
    if peer.archived_at is not None:
        raise PeerRefused(i18n.gettext("This instance is no longer paired."))
    key_id, private, _ = await signing_key(session, settings)
    body = json.dumps(payload, ensure_ascii=False).encode()
    url = peer.base_url.rstrip("/") + path
    headers = sign(key_id, private, method, url, body, recipient=peer.key_id)
    try:
        async with _client(settings) as client:
            answered = await client.request(method, url, content=body, headers=headers)
        decoded = json.loads(answered.body) if answered.body else None
        status = answered.status
    except (outbound.OutboundError, ValueError) as exc:
        raise PeerUnreachable(i18n.gettext("%(address)s did not answer as a LibCoop instance does.", address=peer.base_url)) from exc
    return status, decoded, proof(body, headers)


async def signed_request(session: AsyncSession, settings: Settings, peer: Peer, method: str, path: str, payload: Any) -> tuple[int, Any]:
    """A signed request to a paired instance (and only to one): its status and decoded JSON answer."""
    status, answer, _ = await signed_exchange(session, settings, peer, method, path, payload)
    return status, answer


def refusal_detail(answer: Any, status: int) -> str:
    """What the other instance said when it refused (its problem+json detail), or its status."""
    if isinstance(answer, dict) and isinstance(answer.get("detail"), str):
        return answer["detail"][:500]
    return i18n.gettext("the other instance answered %(status)s", status=status)


# ---- pairing ---------------------------------------------------------------------------------------------------


def _hash(code: str) -> str:
    return hashlib.sha256(code.strip().upper().encode()).hexdigest()


async def make_pairing_code(session: AsyncSession, principal: Principal, institution_id: uuid.UUID) -> str:
    """A one-time code for the administrator of `institution_id`'s instance; shown once, valid a day."""
    require_admin(principal, N_("pair with other instances"))
    institution = (await session.execute(select(I.code, I.is_home).where(I.id == institution_id))).first()
    if institution is None or institution.is_home:
        raise ValidationFailed({"institution_id": i18n.gettext("choose the partner institution the other instance speaks for")})
    code = "-".join(secrets.token_hex(3).upper() for _ in range(3))  # 72 bits, read out by telephone as three groups
    session.add(
        PairingCode(code_hash=_hash(code), institution_id=institution_id, created_by=principal.name, expires_at=utcnow() + CODE_VALIDITY)
    )
    audit.record(session, principal, "create", "pairing_code", institution_id, summary=f"Pairing code made for {institution.code}")
    await session.commit()
    return code


def _document(status: int, answer: bytes, what: str) -> dict[str, Any]:
    try:
        document = json.loads(answer)
    except ValueError:
        document = None
    if status != 200 or not isinstance(document, dict):
        raise ValidationFailed(
            {"base_url": i18n.gettext("%(what)s answered %(status)s, not a LibCoop instance's document", what=what, status=status)}
        )
    return document


async def pair_with(
    session: AsyncSession, principal: Principal, settings: Settings, own_url: str, base_url: str, code: str, institution_id: uuid.UUID
) -> uuid.UUID:
    """Our side of pairing: the partner's administrator gave us `code`; their instance is at `base_url`."""
    require_admin(principal, N_("pair with other instances"))
    base_url = base_url.strip().rstrip("/")
    if not ADDRESS.fullmatch(base_url):
        raise ValidationFailed({"base_url": i18n.gettext("give the address of the other instance, such as https://libcoop.nlc.cn")})
    if await session.scalar(select(PE.id).where(PE.base_url == base_url, PE.archived_at.is_(None))):
        raise ConflictError(i18n.gettext("This instance is already paired."), errors={"base_url": i18n.gettext("already paired")})
    institution = await session.scalar(select(I.id).where(I.id == institution_id, I.is_home.is_(False)))
    if institution is None:
        raise ValidationFailed({"institution_id": i18n.gettext("choose the partner institution the other instance speaks for")})
    key_id, private, public = await signing_key(session, settings)
    try:
        async with _client(settings) as client:
            answered = await client.request("GET", base_url + WELL_KNOWN)
            theirs = _document(answered.status, answered.body, base_url + WELL_KNOWN)
            keys = theirs.get("keys")
            usable = [k for k in keys if isinstance(k, dict) and k.get("alg") == "ed25519"] if isinstance(keys, list) else []
            their_key = usable[0] if usable else None
            if their_key is None or not _fingerprint_matches(their_key.get("id"), their_key.get("public_key")):
                raise ValidationFailed({"base_url": i18n.gettext("the other instance publishes no usable key")})
            payload = {"code": code.strip(), "base_url": own_url, "key": {"id": key_id, "alg": "ed25519", "public_key": public}}
            body = json.dumps(payload).encode()
            url = base_url + "/federation/pair"
            headers = sign(key_id, private, "POST", url, body, recipient=their_key["id"])
            answered = await client.request("POST", url, content=body, headers=headers)
            status, answer = answered.status, answered.body
    except outbound.OutboundError as exc:
        raise ValidationFailed({"base_url": i18n.gettext("cannot reach it: %(error)s", error=str(exc))}) from exc
    if status != 200:
        detail = _document(200, answer, url).get("detail") if answer.startswith(b"{") else None
        raise ValidationFailed({"code": detail or i18n.gettext("the other instance refused the code (answer %(status)s)", status=status)})
    declared = theirs.get("institution")
    them: dict[str, Any] = declared if isinstance(declared, dict) else {}
    peer = Peer(
        base_url=base_url,
        key_id=their_key["id"],
        public_key=their_key["public_key"],
        institution_id=institution_id,
        their_code=str(them.get("code") or "")[:20],
        their_name=str(them.get("name") or "")[:300],
        paired_by=principal.name,
    )
    session.add(peer)
    await session.flush()
    audit.record(session, principal, "pair", "peer", peer.id, summary=f"Paired with {base_url} ({peer.their_code})")
    await session.commit()
    return peer.id


async def accept_pairing(session: AsyncSession, settings: Settings, own_url: str, url: str, headers: Any, body: bytes) -> dict[str, Any]:
    """Their side: a pairing request signed by the key it carries, with a code we made, from an address that publishes
    that key. Returns what we tell the requester (our institution)."""
    try:
        payload = json.loads(body)
        code, base_url, key = str(payload["code"]), str(payload["base_url"]).rstrip("/"), payload["key"]
        key_id, public = str(key["id"]), str(key["public_key"])
    except (ValueError, KeyError, TypeError) as exc:
        raise ValidationFailed({"body": i18n.gettext("a pairing request gives code, base_url and key")}) from exc
    if not ADDRESS.fullmatch(base_url):
        raise ValidationFailed({"base_url": i18n.gettext("give the address of the other instance, such as https://libcoop.nlc.cn")})
    if not _fingerprint_matches(key_id, public):
        raise PeerRefused(i18n.gettext("The key id is not the key's fingerprint."))
    await verify(session, "POST", url, headers, body, key_id=key_id, public_key=public)
    stored = (await session.execute(select(PC.id, PC.institution_id, PC.expires_at, PC.used_at).where(PC.code_hash == _hash(code)))).first()
    if stored is None or stored.used_at is not None or stored.expires_at < utcnow():
        raise PeerRefused(i18n.gettext("This pairing code is unknown, used or expired: ask for a new one."))
    # The code is spent now, whatever happens next: a code is tried once.
    spent = await session.execute(update(PairingCode).where(PC.id == stored.id, PC.used_at.is_(None)).values(used_at=utcnow()))
    await session.commit()
    if spent.rowcount != 1:  # type: ignore[attr-defined]
        raise PeerRefused(i18n.gettext("This pairing code is unknown, used or expired: ask for a new one."))
    try:  # the address it claims must publish the key it signed with
        async with _client(settings) as client:
            answered = await client.request("GET", base_url + WELL_KNOWN)
        answer = answered.body
        published = {k.get("id"): k.get("public_key") for k in _document(answered.status, answer, base_url).get("keys", [])}
    except (outbound.OutboundError, ValidationFailed, AttributeError, TypeError) as exc:  # unreachable, or not a key list
        raise PeerRefused(i18n.gettext("Its address does not answer with its key.")) from exc
    if published.get(key_id) != public:
        raise PeerRefused(i18n.gettext("Its address publishes another key."))
    them = json.loads(answer).get("institution")
    them = them if isinstance(them, dict) else {}
    peer = Peer(
        base_url=base_url,
        key_id=key_id,
        public_key=public,
        institution_id=stored.institution_id,
        their_code=str(them.get("code") or "")[:20],
        their_name=str(them.get("name") or "")[:300],
        paired_by=i18n.gettext("pairing code"),
    )
    session.add(peer)
    await session.flush()
    audit.record(session, None, "pair", "peer", peer.id, summary=f"Paired with {base_url} ({peer.their_code}) by its pairing code")
    await session.commit()
    return {"paired": True, "base_url": own_url}


async def list_peers(session: AsyncSession, principal: Principal) -> list[dict[str, Any]]:
    require_admin(principal, N_("pair with other instances"))
    rows = await session.execute(
        select(
            PE.id,
            PE.base_url,
            PE.key_id,
            PE.their_code,
            PE.their_name,
            PE.paired_by,
            PE.created_at,
            PE.archived_at,
            PE.version,
            I.code,
            I.name,
        )
        .join(table(Institution), I.id == PE.institution_id)
        .order_by(PE.archived_at.is_not(None), PE.created_at.desc())
    )
    return [dict(r._mapping) for r in rows]


async def unpair(session: AsyncSession, principal: Principal | None, settings: Settings, peer_id: uuid.UUID, *, tell: bool = True) -> None:
    """Trust the instance no more (kept, archived, for the history); tell it, if it answers (it unpairs too)."""
    if principal is not None:
        require_admin(principal, N_("pair with other instances"))
    peer = await session.get(Peer, peer_id)
    if peer is None or peer.archived_at is not None:
        raise NotFoundError("peer")
    if tell:  # it may be down: we stop trusting it all the same
        with contextlib.suppress(ServiceError):
            await signed_request(session, settings, peer, "POST", "/federation/unpair", {"reason": "unpaired by its administrator"})
    peer.archived_at = datetime.now(UTC)
    peer.version += 1
    audit.record(session, principal, "unpair", "peer", peer_id, summary=f"Unpaired from {peer.base_url}")
    await session.commit()
