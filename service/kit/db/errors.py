"""The one place that tells what a database error means.

Everything that reacts to a database failure asks here: the problem+json handlers
(`service/kit/errors.py`: 409, 503 or 500), the engine's disconnect hook, the replica failover
(`service/replication/`) and the services that turn a named unique constraint into their own
answer (a taken slug). SQLSTATEs come from the driver error SQLAlchemy wraps (`.orig`), or from
any error in the cause chain.
"""

import re
from enum import Enum

from sqlalchemy import exc as sa_exc


class DbFailure(Enum):
    """What a failed statement means for the request that ran it."""

    UNAVAILABLE = "unavailable"
    """The database cannot be reached, is going away, or the pool had no connection in time."""
    POOL_TIMEOUT = "pool_timeout"
    """No pooled connection within the pool timeout (also counts as UNAVAILABLE for clients)."""
    RECOVERY_CONFLICT = "recovery_conflict"
    """A replica cancelled the query because WAL replay needed what it held."""
    UNIQUE_VIOLATION = "unique_violation"
    INTEGRITY = "integrity"
    """Any other constraint (foreign key, check, not null)."""
    OTHER = "other"


# class 08 (connection exception), 57P01 admin shutdown (pg_terminate_backend, fast shutdown),
# 57P02 crash shutdown (immediate shutdown), 57P03 cannot connect now (starting up),
# 53300 too many connections.
_UNAVAILABLE_STATES = frozenset({"57P01", "57P02", "57P03", "53300"})
# 40001 serialization failure / 40P01 deadlock: what a hot-standby conflict cancels a query with.
_RECOVERY_CONFLICT_STATES = frozenset({"40001", "40P01"})
_UNIQUE_VIOLATION = "23505"
# SQLite names the columns, not the constraint: "UNIQUE constraint failed: posts.slug".
_SQLITE_UNIQUE = re.compile(r"UNIQUE constraint failed: ([\w.]+(?:, [\w.]+)*)")


def causes(error: BaseException) -> list[BaseException]:
    """The error, its wrapped driver error (`.orig`) and its causes, outermost first."""
    chain: list[BaseException] = []
    pending: list[BaseException] = [error]
    while pending and len(chain) < 12:
        current = pending.pop(0)
        if any(current is seen for seen in chain):
            continue
        chain.append(current)
        orig = getattr(current, "orig", None)
        pending += [e for e in (orig, current.__cause__, current.__context__) if e is not None]
    return chain


def sqlstate(error: BaseException) -> str | None:
    """The first SQLSTATE in the cause chain, if any."""
    for cause in causes(error):
        state = getattr(cause, "sqlstate", None) or getattr(cause, "pgcode", None)
        if isinstance(state, str):
            return state
    return None


def is_disconnect_error(error: BaseException) -> bool:
    """The server closed or refused the connection (shutdown, restart, terminated backend)."""
    for cause in causes(error):
        state = getattr(cause, "sqlstate", None) or getattr(cause, "pgcode", None)
        if isinstance(state, str) and (state in _UNAVAILABLE_STATES or state.startswith("08")):
            return True
        name = type(cause).__name__
        if name in {"ConnectionDoesNotExistError", "ConnectionFailureError"}:
            return True
        if isinstance(cause, ConnectionError):
            return True
        if name == "InterfaceError" and "connection is closed" in str(cause):
            return True
    return False


def is_pool_timeout(error: BaseException) -> bool:
    return isinstance(error, sa_exc.TimeoutError)


def is_recovery_conflict(error: BaseException) -> bool:
    return sqlstate(error) in _RECOVERY_CONFLICT_STATES


def is_unavailable(error: BaseException) -> bool:
    """True when the database cannot be reached or the pool had no free connection in time."""
    if isinstance(error, sa_exc.TimeoutError | ConnectionError | TimeoutError):
        return True
    if isinstance(error, sa_exc.DBAPIError) and error.connection_invalidated:
        return True
    if isinstance(error, sa_exc.InterfaceError | sa_exc.OperationalError):
        return True
    if is_disconnect_error(error):
        return True
    return any(isinstance(cause, OSError | TimeoutError) for cause in causes(error)[1:])


def violated_unique(error: BaseException) -> str | None:
    """For a unique violation: the constraint's name on PostgreSQL, `table.column[, ...]` on
    SQLite (which does not report names); None for any other error."""
    if not isinstance(error, sa_exc.IntegrityError):
        return None
    chain = causes(error)
    if any(getattr(cause, "sqlstate", None) == _UNIQUE_VIOLATION for cause in chain):
        # SQLAlchemy's asyncpg adapter error carries the SQLSTATE; the asyncpg exception under
        # it carries the constraint name.
        names = (getattr(cause, "constraint_name", None) for cause in chain)
        return next((name for name in names if isinstance(name, str)), "")
    for cause in chain:
        match = _SQLITE_UNIQUE.search(str(cause))
        if match is not None:
            return match.group(1)
    return None


def classify(error: BaseException) -> DbFailure:
    """The one answer to "what happened?", in order of precedence."""
    if is_pool_timeout(error):
        return DbFailure.POOL_TIMEOUT
    if is_recovery_conflict(error):
        return DbFailure.RECOVERY_CONFLICT
    if violated_unique(error) is not None:
        return DbFailure.UNIQUE_VIOLATION
    if isinstance(error, sa_exc.IntegrityError):
        return DbFailure.INTEGRITY
    if is_unavailable(error):
        return DbFailure.UNAVAILABLE
    return DbFailure.OTHER
