"""What a provider can do beyond returning a value: take part in the response
(`ResponseHook`), answer at once (`Answered`), or ask for a shielded exit (`shielded`)."""

from collections.abc import Callable
from typing import Any, TypeVar

from starlette.responses import Response


class ResponseHook:
    """A provider's value that takes part in the response (e.g. an idempotency claim): a
    base class, not a Protocol, so the check per provider value is a plain `isinstance`."""

    async def before_commit(self, response: Response) -> None:
        """The response is built; the request's transaction is still open."""

    async def after_commit(self, response: Response) -> None:
        """The request's transaction committed (function-scoped providers have exited)."""


class Answered(Exception):
    """Raised by a provider that already has the answer (an idempotent replay): the route sends
    `response`, and the request's transaction rolls back."""

    def __init__(self, response: Response) -> None:
        super().__init__("answered")
        self.response = response


SHIELDED = "__inkwell_shielded_exit__"
"""The mark `shielded` sets (plan.py reads it)."""


_F = TypeVar("_F", bound=Callable[..., Any])


def shielded(provider: _F) -> _F:
    """Mark a yield provider whose exit must finish even if the request's task is cancelled
    (the session: its COMMIT or ROLLBACK)."""
    setattr(provider, SHIELDED, True)
    return provider
