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
        value: T = getattr(app.state, self.name)
        return value

    def find(self, owner: Starlette | HTTPConnection) -> T | None:
        """Like `of`, but None when the application never set it (apps built by tests)."""
        app = owner.app if isinstance(owner, HTTPConnection) else owner
        found: T | None = getattr(app.state, self.name, None)
        return found

    def clear(self, app: Starlette) -> None:
        """Forget the value (a test that put one for its own duration)."""
        if hasattr(app.state, self.name):
            delattr(app.state, self.name)
