"""Consistency tokens: signed primary WAL positions, carried by a header or a cookie."""

import hashlib
import hmac

from service.kit.http.answers import ResponseHeader

HEADER = "X-Consistency-Token"

TOKEN_HEADER = ResponseHeader(
    HEADER,
    "On a write that committed (on PostgreSQL): send it back, as this header or the "
    "`consistency_token` cookie set with it, and a read waits for a database that has it.",
)


COOKIE = "consistency_token"


_HEADER_KEY = HEADER.lower().encode()


_MAX_TOKEN = 64


class TokenCodec:
    """`<lsn hex>.<mac>`: HMAC-SHA256 truncated to 64 bits, so clients cannot forge positions."""

    def __init__(self, secret: str) -> None:
        self._key = hashlib.sha256(b"inkwell-consistency-token:" + secret.encode()).digest()

    def _mac(self, body: str) -> str:
        return hmac.new(self._key, body.encode(), hashlib.sha256).hexdigest()[:16]

    def encode(self, lsn: int) -> str:
        body = f"{lsn:x}"
        return f"{body}.{self._mac(body)}"

    def decode(self, token: str) -> int | None:
        """The LSN of a valid token; None for anything malformed or forged (it is ignored)."""
        if len(token) > _MAX_TOKEN:
            return None
        body, sep, mac = token.partition(".")
        if not sep or not body or not hmac.compare_digest(mac, self._mac(body)):
            return None
        try:
            return int(body, 16)
        except ValueError:
            return None


class TokenIssuer:
    """The headers a committed write's response carries: the token, and a cookie with it."""

    def __init__(self, secret: str, *, secure_cookie: bool) -> None:
        self.codec = TokenCodec(secret)
        self.cookie_attributes = "; HttpOnly; SameSite=Lax; Path=/; Max-Age=3600" + (
            "; Secure" if secure_cookie else ""
        )

    def headers(self, lsn: int) -> dict[str, str]:
        token = self.codec.encode(lsn)
        return {HEADER: token, "set-cookie": f"{COOKIE}={token}{self.cookie_attributes}"}


def _token_from_headers(headers: list[tuple[bytes, bytes]]) -> str | None:
    cookie_token = None
    for key, value in headers:
        if key == _HEADER_KEY:
            return value.decode("latin-1").strip()
        if key == b"cookie" and cookie_token is None:
            for part in value.decode("latin-1").split(";"):
                name, sep, found = part.strip().partition("=")
                if sep and name == COOKIE:
                    cookie_token = found.strip().strip('"')
                    break
    return cookie_token
