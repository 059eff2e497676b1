"""Keyset cursors exactly as the service signs them (service/kit/pagination.py CursorCodec).

The reference and idiomatic apps answer with the same `next_cursor` as the service for the same
row, and the harness mints cursors for the wrk probes with it: one cursor list works on all
three targets. The harness checks the equality on live JSON before it measures anything.
A cursor is bound to its listing (`listing(path, query)`: the path and the query parameters
other than `cursor` and `limit`), as the service binds it; tests/kit/test_pagination.py checks
that the two agree.
"""

import base64
import hashlib
import hmac
import json
from collections.abc import Iterable, Sequence
from datetime import datetime
from typing import Any
from uuid import UUID

NEWEST = "-created_at"
OLDEST = "created_at"
COMMENTS = "id"


class Cursors:
    """`encode(sort, values)` / `decode(cursor, sort)`; a bad cursor raises ValueError."""

    def __init__(self, secret: str) -> None:
        self._key = hashlib.sha256(b"inkwell-cursor:" + secret.encode()).digest()

    def _sign(self, payload: bytes) -> str:
        digest = hmac.new(self._key, payload, hashlib.sha256).digest()[:16]
        return base64.urlsafe_b64encode(digest).decode().rstrip("=")

    @staticmethod
    def listing(path: str, query: Iterable[tuple[str, str]]) -> str:
        """The digest a cursor is bound to (service/kit/pagination.py `listing_digest`)."""
        items = sorted([(k, v) for k, v in query if k not in ("cursor", "limit")])
        return hashlib.sha256(repr((path, items)).encode()).hexdigest()[:16]

    def encode(self, sort: str, values: Sequence[Any], listing: str) -> str:
        encoded = [v.isoformat() if isinstance(v, datetime) else _plain(v) for v in values]
        payload = json.dumps([sort, encoded, listing], separators=(",", ":")).encode()
        body = base64.urlsafe_b64encode(payload).decode().rstrip("=")
        return f"{body}.{self._sign(payload)}"

    def decode(self, cursor: str, sort: str, listing: str) -> list[Any]:
        body, _, signature = cursor.partition(".")
        payload = base64.urlsafe_b64decode(body + "=" * (-len(body) % 4))
        if not hmac.compare_digest(signature, self._sign(payload)):
            raise ValueError("The cursor is not valid.")
        name, values, bound_to = json.loads(payload)
        if name != sort:
            raise ValueError("The cursor belongs to another sort order.")
        if bound_to != listing:
            raise ValueError("The cursor belongs to another listing.")
        if sort == COMMENTS:
            return [UUID(str(values[0]))]
        created_at, row_id = values
        return [datetime.fromisoformat(created_at), int(row_id)]


def _plain(value: Any) -> Any:
    return str(value) if isinstance(value, UUID) else value
