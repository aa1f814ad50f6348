"""Secrets at rest (identity providers' client secrets, two-factor secrets, webhook secrets, the instance's signing
key): Fernet, with one key per purpose derived from COOP_SECRET_KEY by HKDF (RFC 5869).

Rotating COOP_SECRET_KEY: set the new key in COOP_SECRET_KEY and the one before it in COOP_OLD_SECRET_KEYS; every
stored secret stays readable (MultiFernet tries the current key, then the older ones), and `coop secret rotate`
re-encrypts each under the new key, after which the old one can go (docs/deploy.md). Secrets stored before keys
were derived by HKDF (a plain SHA-256 of purpose and key) are read too, and rewritten by the rotation.
"""

import base64
import hashlib
from collections.abc import Sequence

from cryptography.fernet import Fernet, InvalidToken, MultiFernet
from cryptography.hazmat.primitives import hashes
from cryptography.hazmat.primitives.kdf.hkdf import HKDF

IDP_CLIENT_SECRET = "libcoop/idp-client-secret/v1"
TOTP_SECRET = IDP_CLIENT_SECRET  # the purpose two-factor secrets were first stored under: kept, so they stay readable
SALT = b"libcoop/secrets-at-rest/v2"

Keys = str | Sequence[str]  # COOP_SECRET_KEY, or it followed by the older keys still readable during a rotation


def _keys(keys: Keys) -> tuple[str, ...]:
    return (keys,) if isinstance(keys, str) else tuple(keys)


def _derived(secret_key: str, purpose: str) -> Fernet:
    key = HKDF(algorithm=hashes.SHA256(), length=32, salt=SALT, info=purpose.encode()).derive(secret_key.encode())
    return Fernet(base64.urlsafe_b64encode(key))


def _before_hkdf(secret_key: str, purpose: str) -> Fernet:
    digest = hashlib.sha256(purpose.encode() + b"\x00" + secret_key.encode()).digest()
    return Fernet(base64.urlsafe_b64encode(digest))


def _readers(keys: Keys, purpose: str) -> MultiFernet:
    """The current key first (what encrypts, and what a rotation rewrites to), then every other way a stored secret
    may have been sealed."""
    ordered = _keys(keys)
    return MultiFernet([_derived(k, purpose) for k in ordered] + [_before_hkdf(k, purpose) for k in ordered])


def encrypt(keys: Keys, plaintext: str, *, purpose: str = IDP_CLIENT_SECRET) -> str:
    return _derived(_keys(keys)[0], purpose).encrypt(plaintext.encode()).decode()


def decrypt(keys: Keys, token: str, *, purpose: str = IDP_CLIENT_SECRET) -> str:
    try:
        return _readers(keys, purpose).decrypt(token.encode()).decode()
    except InvalidToken as exc:
        raise ValueError(
            f"a stored secret ({purpose}) cannot be decrypted with COOP_SECRET_KEY (nor COOP_OLD_SECRET_KEYS): "
            "was the key changed without keeping the old one there until `coop secret rotate` ran?"
        ) from exc


def rotate(keys: Keys, token: str, *, purpose: str = IDP_CLIENT_SECRET) -> str:
    """The same secret sealed under the current key (ValueError when no key reads it)."""
    try:
        return _readers(keys, purpose).rotate(token.encode()).decode()
    except InvalidToken as exc:
        raise ValueError(f"a stored secret ({purpose}) cannot be read with any of the keys given") from exc
