"""Client secrets (stored hashed) and bearer tokens (signed, short-lived).

A token is `v1.<claims>.<signature>`: base64url JSON claims (client id, issued-at, expiry) and
an HMAC-SHA256 of them with the warehouse's signing key (security.api_signing_key). Nothing
about a token is stored: a forged one fails the signature, an expired one its `exp`, and a
revoked client's fails the status check every request makes.
"""

from __future__ import annotations

import base64
import hashlib
import hmac
import json
import secrets
import time
from dataclasses import dataclass

MAX_TOKEN_SECONDS = 900
_SCRYPT = {"n": 2**14, "r": 8, "p": 1, "dklen": 32}


def _b64(data: bytes) -> str:
    return base64.urlsafe_b64encode(data).rstrip(b"=").decode()


def _unb64(text: str) -> bytes:
    return base64.urlsafe_b64decode(text + "=" * (-len(text) % 4))


def new_secret() -> str:
    return secrets.token_urlsafe(32)


def hash_secret(secret: str) -> str:
    """scrypt with a salt of its own: a stolen table does not give the secrets back."""
    salt = secrets.token_bytes(16)
    digest = hashlib.scrypt(secret.encode(), salt=salt, **_SCRYPT)  # type: ignore[arg-type]
    return f"scrypt${_b64(salt)}${_b64(digest)}"


def verify_secret(secret: str, stored: str) -> bool:
    try:
        scheme, salt, digest = stored.split("$")
    except ValueError:
        return False
    if scheme != "scrypt":
        return False
    candidate = hashlib.scrypt(secret.encode(), salt=_unb64(salt), **_SCRYPT)  # type: ignore[arg-type]
    return hmac.compare_digest(candidate, _unb64(digest))


@dataclass(frozen=True)
class Claims:
    client_id: str
    issued_at: int
    expires_at: int


def sign(key: bytes, client_id: str, *, seconds: int, now: float | None = None) -> str:
    issued = int(now if now is not None else time.time())
    claims = {"c": client_id, "i": issued, "e": issued + min(seconds, MAX_TOKEN_SECONDS)}
    body = _b64(json.dumps(claims, separators=(",", ":")).encode())
    signature = hmac.new(key, f"v1.{body}".encode(), hashlib.sha256).digest()
    return f"v1.{body}.{_b64(signature)}"


class TokenError(ValueError):
    pass


def verify(key: bytes, token: str, *, now: float | None = None) -> Claims:
    """The token's claims, or TokenError saying why it is refused."""
    parts = token.split(".")
    if len(parts) != 3 or parts[0] != "v1":
        raise TokenError("malformed token")
    try:
        signature = _unb64(parts[2])
    except ValueError:
        raise TokenError("malformed token") from None
    expected = hmac.new(key, f"v1.{parts[1]}".encode(), hashlib.sha256).digest()
    if not hmac.compare_digest(signature, expected):
        raise TokenError("invalid token signature")
    try:
        claims = json.loads(_unb64(parts[1]))
        parsed = Claims(str(claims["c"]), int(claims["i"]), int(claims["e"]))
    except (ValueError, KeyError, TypeError):
        raise TokenError("malformed token") from None
    if parsed.expires_at <= (now if now is not None else time.time()):
        raise TokenError("token expired")
    return parsed
