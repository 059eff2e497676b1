"""Endpoint signing secrets: made, shown once, and kept sealed with the server's key.

AES-256-GCM (`cryptography`, the maintained library): the stored value is unreadable without
`WEBHOOK_SECRET_KEY` and tamper-evident; the owner's id is the associated data, so a sealed
secret copied onto another user's row does not open (docs/security.md)."""

import base64
import os
import secrets

from cryptography.exceptions import InvalidTag
from cryptography.hazmat.primitives import hashes
from cryptography.hazmat.primitives.ciphers.aead import AESGCM
from cryptography.hazmat.primitives.kdf.hkdf import HKDF

PREFIX = "whsec_"
VERSION = "v1"
SECRET_BYTES = 32


def new_secret() -> str:
    """A Standard Webhooks secret: `whsec_` + base64 of 32 random bytes."""
    return PREFIX + base64.b64encode(secrets.token_bytes(SECRET_BYTES)).decode()


def secret_bytes(secret: str) -> bytes:
    """The HMAC key a `whsec_` secret stands for."""
    return base64.b64decode(secret.removeprefix(PREFIX))


class SecretBox:
    """Seals and opens secrets with a key derived from the server key (HKDF-SHA256)."""

    def __init__(self, server_key: str) -> None:
        hkdf = HKDF(hashes.SHA256(), length=32, salt=None, info=b"inkwell webhook secrets v1")
        self._aead = AESGCM(hkdf.derive(server_key.encode()))

    def seal(self, secret: str, *, owner_id: int) -> str:
        nonce = os.urandom(12)
        sealed = self._aead.encrypt(nonce, secret.encode(), _aad(owner_id))
        return f"{VERSION}:{base64.urlsafe_b64encode(nonce + sealed).decode()}"

    def open(self, sealed: str, *, owner_id: int) -> str:
        """The secret; ValueError when it was sealed with another key or for another owner."""
        version, _, body = sealed.partition(":")
        if version != VERSION:
            raise ValueError("unknown sealed secret version")
        raw = base64.urlsafe_b64decode(body)
        try:
            return self._aead.decrypt(raw[:12], raw[12:], _aad(owner_id)).decode()
        except InvalidTag as error:
            raise ValueError("the secret does not open with this key") from error


def _aad(owner_id: int) -> bytes:
    return f"webhook-endpoint-owner:{owner_id}".encode()
