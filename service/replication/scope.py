"""The one object replication keeps in the ASGI scope, and the failure that crosses it.

`ConsistencyMiddleware` creates a `ReadYourWrites` per HTTP request and stores it under
`SCOPE_KEY`; the session router (service/replication/routing.py), called by the session
dependencies, reads and fills it through `ReadYourWrites.of(scope)`. Nothing else uses the key.
"""

from dataclasses import dataclass

from starlette.types import Scope

from service.replication.replicas import Replica

SCOPE_KEY = "inkwell.read_your_writes"


@dataclass(eq=False)
class ReadYourWrites:
    """What one request knows about replication: the client's token and where it reads."""

    min_lsn: int | None = None
    """The position a read must see: the LSN of the client's valid token, else None."""
    force_primary: bool = False
    """Set on the retry of a failed replica read: this attempt reads on the primary."""
    replica: Replica | None = None
    """The replica chosen for this attempt's read session (None: the primary)."""

    @classmethod
    def begin(cls, scope: Scope, *, min_lsn: int | None) -> "ReadYourWrites":
        """A fresh object for this request, stored in its scope (called by the middleware)."""
        context = scope[SCOPE_KEY] = cls(min_lsn=min_lsn)
        return context

    @classmethod
    def of(cls, scope: Scope) -> "ReadYourWrites":
        """This request's object; a fresh one (stored) when no middleware created it."""
        found: ReadYourWrites | None = scope.get(SCOPE_KEY)
        return found if found is not None else cls.begin(scope, min_lsn=None)


class ReplicaReadFailed(Exception):
    """A read on a replica failed in a way the primary can absorb (recovery conflict, lost link).

    Deliberately not a SQLAlchemyError: it passes the exception handlers and reaches the
    middleware, which retries the request on the primary.
    """
