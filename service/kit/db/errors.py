"""The one place that tells what a database error means; everything that reacts to one asks here.

SQLSTATEs come from the driver error SQLAlchemy wraps (`.orig`), or from any error in the cause
chain."""

import re
import sqlite3
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
    DATA = "data"
    """A value the database cannot take (out of range, malformed JSON, too long): the
    request's fault, a 4xx; never 'unavailable'."""
    OTHER = "other"


# class 08 (connection exception), 57P01 admin shutdown (pg_terminate_backend, fast shutdown),
# 57P02 crash shutdown (immediate shutdown), 57P03 cannot connect now (starting up),
# 53300 too many connections, 25006 read-only transaction (a primary demoted under its
# connections by a fail-over: drop them, the next connect finds the new primary).
_UNAVAILABLE_STATES = frozenset({"57P01", "57P02", "57P03", "53300", "25006"})
# 40001 serialization failure / 40P01 deadlock: what a hot-standby conflict cancels a query with.
_RECOVERY_CONFLICT_STATES = frozenset({"40001", "40P01"})
_UNIQUE_VIOLATION = "23505"
# class 22 data exception (out of range, invalid text representation, untranslatable character,
# invalid JSON...), class 54 program limit exceeded (a value too big for an index or tsvector).
_DATA_CLASSES = ("22", "54")
# SQLite has no SQLSTATE: its OperationalError covers outages and bad data alike, told apart
# by the message. Only these mean the database cannot serve (a 503); the rest are not outages.
_SQLITE_UNAVAILABLE = (
    "database is locked",
    "database table is locked",
    "unable to open database",
    "disk i/o error",
    "database or disk is full",
    "locking protocol",
    "database is closed",
)
_SQLITE_DATA = (
    "malformed json",
    "json cannot hold",
    "string or blob too big",
    "too many levels",
    "integer overflow",
    "datatype mismatch",
    "too big",
)
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
        # TargetServerAttributeNotMatched: no host of a multi-host DSN is the primary (yet).
        if name in {
            "ConnectionDoesNotExistError",
            "ConnectionFailureError",
            "TargetServerAttributeNotMatched",
        }:
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


def _sqlite_message(error: BaseException) -> str | None:
    """The message of the SQLite error in the chain, lower-cased; None when there is none."""
    for cause in causes(error):
        if isinstance(cause, sqlite3.Error):
            return str(cause).lower()
    return None


def is_data_error(error: BaseException) -> bool:
    """A value the database refused: the request's fault (a 4xx), not an outage."""
    if isinstance(error, sa_exc.IntegrityError):
        return False
    if isinstance(error, sa_exc.DataError):
        return True
    state = sqlstate(error)
    if state is not None:
        return state.startswith(_DATA_CLASSES)
    message = _sqlite_message(error)
    return message is not None and any(part in message for part in _SQLITE_DATA)


def is_unavailable(error: BaseException) -> bool:
    """True when the database cannot be reached or the pool had no free connection in time.

    A data error never is (SQLite's malformed JSON used to turn every `?meta=` query into a
    503); an SQLite OperationalError is only when its message says the database cannot serve.
    """
    if isinstance(error, sa_exc.TimeoutError | ConnectionError | TimeoutError):
        return True
    if isinstance(error, sa_exc.DBAPIError) and error.connection_invalidated:
        return True
    if is_data_error(error):
        return False
    if isinstance(error, sa_exc.InterfaceError):
        return True
    if isinstance(error, sa_exc.OperationalError):
        message = _sqlite_message(error)
        return message is None or any(part in message for part in _SQLITE_UNAVAILABLE)
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
    if is_data_error(error):
        return DbFailure.DATA
    if is_unavailable(error):
        return DbFailure.UNAVAILABLE
    return DbFailure.OTHER
