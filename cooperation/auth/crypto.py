"""Secrets at rest (identity providers' client secrets): Fernet, keyed from COOP_SECRET_KEY.

Changing COOP_SECRET_KEY makes stored client secrets unreadable: re-enter them after a key change
(docs/sso.md says so).
"""

import base64
import hashlib

from cryptography.fernet import Fernet, InvalidToken


def _fernet(secret_key: str) -> Fernet:
    digest = hashlib.sha256(b"libcoop/idp-client-secret/v1\x00" + secret_key.encode()).digest()
    return Fernet(base64.urlsafe_b64encode(digest))


def encrypt(secret_key: str, plaintext: str) -> str:
    return _fernet(secret_key).encrypt(plaintext.encode()).decode()


def decrypt(secret_key: str, token: str) -> str:
    try:
        return _fernet(secret_key).decrypt(token.encode()).decode()
    except InvalidToken as exc:
        raise ValueError("the stored client secret cannot be decrypted with the current COOP_SECRET_KEY") from exc
