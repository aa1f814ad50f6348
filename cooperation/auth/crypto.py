"""Secrets at rest (identity providers' client secrets, the instance's signing key): Fernet, keyed from
COOP_SECRET_KEY and the secret's purpose (one key per kind of secret).

Changing COOP_SECRET_KEY makes stored client secrets unreadable: re-enter them after a key change
(docs/sso.md says so).
"""

import base64
import hashlib

from cryptography.fernet import Fernet, InvalidToken

IDP_CLIENT_SECRET = "libcoop/idp-client-secret/v1"


def _fernet(secret_key: str, purpose: str) -> Fernet:
    digest = hashlib.sha256(purpose.encode() + b"\x00" + secret_key.encode()).digest()
    return Fernet(base64.urlsafe_b64encode(digest))


def encrypt(secret_key: str, plaintext: str, *, purpose: str = IDP_CLIENT_SECRET) -> str:
    return _fernet(secret_key, purpose).encrypt(plaintext.encode()).decode()


def decrypt(secret_key: str, token: str, *, purpose: str = IDP_CLIENT_SECRET) -> str:
    try:
        return _fernet(secret_key, purpose).decrypt(token.encode()).decode()
    except InvalidToken as exc:
        raise ValueError(f"a stored secret ({purpose}) cannot be decrypted with the current COOP_SECRET_KEY") from exc
