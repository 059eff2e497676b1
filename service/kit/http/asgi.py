"""Small pure-ASGI building blocks shared by the middleware."""

from collections.abc import Callable

from starlette.types import Message, Scope, Send


class TrackedSend:
    """A `send` that remembers whether the response has started: until it has, a middleware
    may still answer an error itself; after, it can only re-raise. `on_start` may rewrite the
    `http.response.start` message (add headers) on its way out."""

    def __init__(self, send: Send, on_start: Callable[[Message], Message] | None = None) -> None:
        self._send = send
        self._on_start = on_start
        self.started = False

    async def __call__(self, message: Message) -> None:
        if message["type"] == "http.response.start":
            self.started = True
            if self._on_start is not None:
                message = self._on_start(message)
        await self._send(message)


def header(scope: Scope, name: bytes) -> bytes | None:
    """The first value of request header `name` (lower-case bytes), read from the raw list."""
    for key, value in scope["headers"]:
        if key == name:
            value_: bytes = value
            return value_
    return None
