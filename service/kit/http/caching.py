"""The HTTP semantics of reads, for every route, in one pure-ASGI layer (docs/http.md).

HEAD runs as the GET and drops the body; a 200 read in one piece gets a strong ETag, which
`If-None-Match` turns into a 304; Cache-Control is `public` for anonymous reads, `private,
no-cache` with credentials or a token, `no-store` otherwise; streamed bodies pass untouched."""

from collections.abc import Iterable

from starlette.types import ASGIApp, Message, Receive, Scope, Send

from service.kit.http.etags import none_match, strong_etag

READ_METHODS = frozenset({"GET", "HEAD"})
NO_STORE = b"no-store"
PRIVATE = b"private, no-cache"
# Representation metadata a 304 leaves out (RFC 9110 §15.4.5): there is no content to describe.
_NOT_ON_304 = frozenset(
    {b"content-length", b"content-type", b"content-encoding", b"content-language"}
)

Headers = list[tuple[bytes, bytes]]


def _get(headers: Headers, name: bytes) -> bytes | None:
    for key, value in headers:
        if key.lower() == name:
            return value
    return None


class HttpCaching:
    """HEAD, ETag, 304, Cache-Control and Vary; see the module docstring.

    `personal_headers` / `personal_cookie` make a read `private` and are named in `Vary`;
    `never_cache` paths answer live state and are never stored."""

    def __init__(
        self,
        app: ASGIApp,
        *,
        max_age: int,
        personal_headers: Iterable[str],
        personal_cookie: str | None = None,
        never_cache: tuple[str, ...] = (),
    ) -> None:
        self.app = app
        self.never_cache = never_cache
        self.public = f"public, max-age={max_age}".encode()
        names = list(personal_headers)
        self.personal_headers = frozenset(name.lower().encode() for name in names)
        self.cookie = None if personal_cookie is None else personal_cookie.encode()
        vary = names + ([] if personal_cookie is None else ["Cookie"])
        self.vary = ", ".join(vary).encode()

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        method = scope["method"]
        if method not in READ_METHODS:
            await self.app(scope, receive, _NoStore(send))
            return
        head = method == "HEAD"
        if head:
            # Routing and every layer below see the GET; the server and the access log see the
            # HEAD again from the response start on (`_Read` restores it).
            scope["method"] = "GET"
        read = _Read(self, scope, send, head=head)
        try:
            await self.app(scope, receive, read)
        finally:
            if head:
                scope["method"] = "HEAD"

    def personal(self, scope: Scope) -> bool:
        for key, value in scope["headers"]:
            if key in self.personal_headers:
                return True
            if key == b"cookie" and self.cookie is not None and self._has_cookie(value):
                return True
        return False

    def _has_cookie(self, value: bytes) -> bool:
        name = self.cookie
        assert name is not None
        return name in value and any(
            part.strip().partition(b"=")[0] == name for part in value.split(b";")
        )


class _NoStore:
    """The `send` of a write: its response is never stored by any cache."""

    def __init__(self, send: Send) -> None:
        self._send = send

    async def __call__(self, message: Message) -> None:
        if message["type"] == "http.response.start":
            headers: Headers = list(message.get("headers", ()))
            if _get(headers, b"cache-control") is None:
                headers.append((b"cache-control", NO_STORE))
                message = {**message, "headers": headers}
        await self._send(message)


class _Read:
    """The `send` of one GET/HEAD: holds a 200's start until its body is known (to make the
    ETag), answers 304 when the client's copy is current, drops bodies of HEADs and 304s."""

    def __init__(self, caching: HttpCaching, scope: Scope, send: Send, *, head: bool) -> None:
        self.caching = caching
        self.scope = scope
        self.send = send
        self.head = head
        self.condition: str | None = None
        for key, value in scope["headers"]:
            if key == b"if-none-match":
                self.condition = value.decode("latin-1")
                break
        self.held: Message | None = None
        self.bodyless = head
        self.live = scope["path"].startswith(caching.never_cache)

    async def __call__(self, message: Message) -> None:
        if message["type"] == "http.response.start":
            headers: Headers = list(message.get("headers", ()))
            cache_control = _get(headers, b"cache-control")
            if (
                message["status"] == 200
                and not self.live
                and _get(headers, b"etag") is None
                and (cache_control is None or NO_STORE not in cache_control)
            ):
                self.held = {**message, "headers": headers}  # until the body is known
                return
            await self._start(message["status"], headers)
            return
        if message["type"] != "http.response.body":
            # e.g. `http.response.pathsend` (a file the server sends itself): none for a HEAD
            empty = {"type": "http.response.body", "body": b"", "more_body": False}
            await self.send(empty if self.bodyless else message)
            return
        more = message.get("more_body", False)
        if self.held is not None:
            headers = self.held["headers"]
            self.held = None
            if not more:  # the whole body: it gets its validator
                headers.append((b"etag", strong_etag(message.get("body", b"")).encode()))
            await self._start(200, headers)
        if not self.bodyless:
            await self.send(message)
        elif not more:
            await self.send({"type": "http.response.body", "body": b"", "more_body": False})

    async def _start(self, status: int, headers: Headers) -> None:
        caching = self.caching
        # One pass: the validator and the two headers this layer rewrites.
        etag = cache_control = vary = None
        kept: Headers = []
        for pair in headers:
            name = pair[0].lower()
            if name == b"cache-control":
                cache_control = pair[1]
            elif name == b"vary":
                vary = pair[1]
            else:
                if name == b"etag":
                    etag = pair[1]
                kept.append(pair)
        if (
            status == 200
            and etag is not None
            and self.condition is not None
            and none_match(self.condition, etag.decode("latin-1"))
        ):
            status = 304
            kept = [pair for pair in kept if pair[0].lower() not in _NOT_ON_304]
            self.bodyless = True
        if self.live:
            policy = NO_STORE
        elif status >= 300 and status != 304:
            policy = cache_control or NO_STORE  # errors: never stored (404 is cacheable!)
        elif caching.personal(self.scope):
            policy = NO_STORE if cache_control and NO_STORE in cache_control else PRIVATE
        else:
            policy = cache_control or caching.public
        kept.append((b"cache-control", policy))
        kept.append((b"vary", caching.vary if vary is None else vary + b", " + caching.vary))
        if self.head:
            self.scope["method"] = "HEAD"
        await self.send({"type": "http.response.start", "status": status, "headers": kept})
