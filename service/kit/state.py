"""Typed access to `app.state`: each package declares the slots it owns.

`app.state` is an untyped bag; reading `request.app.state.db` gives `Any`, and a typo is found
at run time. A `StateSlot[T]` names one entry and its type, declared next to the type it holds
(e.g. `SETTINGS` in `service/kit/settings.py`), so every read is checked by mypy and the
application factory (`service/main.py`) is the one place that fills them.
"""

from typing import Generic, TypeVar

from starlette.applications import Starlette
from starlette.requests import HTTPConnection

T = TypeVar("T")


class StateSlot(Generic[T]):
    def __init__(self, name: str) -> None:
        self.name = name

    def put(self, app: Starlette, value: T) -> T:
        setattr(app.state, self.name, value)
        return value

    def of(self, owner: Starlette | HTTPConnection) -> T:
        """The value for this application (or the application serving this request)."""
        app = owner.app if isinstance(owner, HTTPConnection) else owner
        value: T = app.state[self.name]  # item access: no `__getattr__` frame per request
        return value

    def find(self, owner: Starlette | HTTPConnection) -> T | None:
        """Like `of`, but None when the application never set it (apps built by tests, a slot
        only tests fill): a `KeyError`, not the `AttributeError` that `getattr` with a default
        would build and format on every request of the hot path."""
        app = owner.app if isinstance(owner, HTTPConnection) else owner
        try:
            found: T = app.state[self.name]
        except KeyError:
            return None
        return found

    def clear(self, app: Starlette) -> None:
        """Forget the value (a test that put one for its own duration)."""
        if hasattr(app.state, self.name):
            delattr(app.state, self.name)
