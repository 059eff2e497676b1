"""Which database errors are a 503 (unavailable), a disconnect, or a replica fail-over."""

import asyncpg
import pytest
from sqlalchemy import exc as sa_exc

from service.kit.db.errors import (
    DbFailure,
    classify,
    is_disconnect_error,
    is_pool_timeout,
    is_recovery_conflict,
    is_unavailable,
    violated_unique,
)


class DriverError(Exception):
    def __init__(self, sqlstate: str) -> None:
        super().__init__(f"sqlstate {sqlstate}")
        self.sqlstate = sqlstate


def wrapped(orig: BaseException) -> sa_exc.DBAPIError:
    return sa_exc.DBAPIError("SELECT 1", None, orig)


@pytest.mark.parametrize("state", ["57P01", "57P02", "57P03", "53300", "08006", "08001", "25006"])
def test_shutdown_and_connection_states_are_disconnects(state: str) -> None:
    error = wrapped(DriverError(state))
    assert is_disconnect_error(error)
    assert is_unavailable(error)


@pytest.mark.parametrize(
    "orig",
    [
        asyncpg.exceptions.ConnectionDoesNotExistError("connection was closed in the middle"),
        asyncpg.exceptions.TargetServerAttributeNotMatched("None of the hosts match"),
        asyncpg.exceptions.CannotConnectNowError("the database system is starting up"),
        asyncpg.exceptions.AdminShutdownError("terminating connection due to administrator"),
        ConnectionRefusedError(111, "Connection refused"),
        ConnectionResetError(104, "Connection reset by peer"),
    ],
)
def test_driver_disconnects_are_unavailable(orig: BaseException) -> None:
    assert is_unavailable(wrapped(orig))
    assert is_unavailable(orig)


def test_pool_timeout_is_unavailable_but_not_a_disconnect() -> None:
    error = sa_exc.TimeoutError("QueuePool limit reached")
    assert is_unavailable(error)
    assert is_pool_timeout(error)
    assert not is_disconnect_error(error)


@pytest.mark.parametrize("state", ["40001", "40P01"])
def test_recovery_conflicts_fail_over_but_are_not_outages(state: str) -> None:
    error = wrapped(DriverError(state))
    assert is_recovery_conflict(error)
    assert not is_unavailable(error)


@pytest.mark.parametrize("orig", [DriverError("23505"), DriverError("42P01"), ValueError("x")])
def test_ordinary_errors_are_not_unavailable(orig: BaseException) -> None:
    assert not is_unavailable(wrapped(orig))
    assert not is_recovery_conflict(wrapped(orig))


class UniqueError(Exception):
    sqlstate = "23505"

    def __init__(self, constraint_name: str) -> None:
        super().__init__("duplicate key value violates unique constraint")
        self.constraint_name = constraint_name


class AdapterError(Exception):
    """Like SQLAlchemy's asyncpg adapter error: the SQLSTATE, the driver error as its cause."""

    sqlstate = "23505"


def test_unique_violation_names_the_constraint_found_under_the_adapter() -> None:
    adapter = AdapterError("duplicate key")
    adapter.__cause__ = UniqueError("uq_posts_slug")
    assert violated_unique(sa_exc.IntegrityError("INSERT", None, adapter)) == "uq_posts_slug"


def test_unique_violation_names_its_constraint_on_postgresql() -> None:
    error = sa_exc.IntegrityError("INSERT", None, UniqueError("uq_posts_slug"))
    assert violated_unique(error) == "uq_posts_slug"
    assert classify(error) is DbFailure.UNIQUE_VIOLATION


def test_unique_violation_names_its_columns_on_sqlite() -> None:
    orig = Exception("UNIQUE constraint failed: posts.slug")
    error = sa_exc.IntegrityError("INSERT", None, orig)
    assert violated_unique(error) == "posts.slug"


def test_other_integrity_errors_are_not_unique_violations() -> None:
    error = sa_exc.IntegrityError("INSERT", None, Exception("FOREIGN KEY constraint failed"))
    assert violated_unique(error) is None
    assert classify(error) is DbFailure.INTEGRITY


def test_classify_orders_pool_timeout_before_unavailable() -> None:
    assert classify(sa_exc.TimeoutError("QueuePool limit")) is DbFailure.POOL_TIMEOUT
    assert classify(wrapped(DriverError("57P01"))) is DbFailure.UNAVAILABLE
    assert classify(wrapped(DriverError("40P01"))) is DbFailure.RECOVERY_CONFLICT
    assert classify(wrapped(DriverError("42P01"))) is DbFailure.OTHER
