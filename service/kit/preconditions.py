"""A condition a write must meet on the current representation of what it changes. The router
builds it from the request (`If-Match`: kit/http/preconditions.py); the service checks it
without knowing HTTP."""

from typing import Protocol

from pydantic import BaseModel


class Precondition(Protocol):
    def holds(self, representation: BaseModel) -> bool:
        """True when the write may go ahead on what currently shows `representation`."""
        ...
