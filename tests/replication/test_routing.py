"""ReplicaRouter on its own (no cluster): the replica choice by the request's `ReadYourWrites`,
and which replica read failures fail over to the primary."""

from collections.abc import AsyncIterator

import pytest
from fastapi import Request
from sqlalchemy import exc as sa_exc
from sqlalchemy.ext.asyncio import async_sessionmaker

from service.database.engines import AsyncReadSession
from service.database.session import Database
from service.replication.replicas import Replica, ReplicaSet
from service.replication.routing import ReplicaRouter
from service.replication.scope import ReadYourWrites, ReplicaReadFailed
from service.replication.tokens import TokenIssuer
from tests.support.settings import make_settings

REPLAYED = 1000


class DriverError(Exception):
    def __init__(self, sqlstate: str) -> None:
        super().__init__(f"sqlstate {sqlstate}")
        self.sqlstate = sqlstate


@pytest.fixture
async def router() -> AsyncIterator[ReplicaRouter]:
    """One in-service replica that has replayed up to REPLAYED (SQLite engines stand in)."""
    settings = make_settings("sqlite+aiosqlite://")
    db = Database.from_settings(settings)
    replica = Replica.from_settings("replica-0", "sqlite+aiosqlite://", settings)
    replica.state, replica.replay_lsn = "ok", REPLAYED
    replicas = ReplicaSet(primary=db.reader, replicas=[replica], settings=settings)
    yield ReplicaRouter(db, replicas, TokenIssuer(settings.jwt_secret, secure_cookie=False))
    await replicas.dispose()
    await db.dispose()


def request(min_lsn: int | None = None, *, force_primary: bool = False) -> Request:
    scope = {"type": "http", "method": "GET", "path": "/", "headers": []}
    ReadYourWrites.begin(scope, min_lsn=min_lsn).force_primary = force_primary
    return Request(scope)


def test_a_caught_up_replica_serves_the_read(router: ReplicaRouter) -> None:
    [replica] = router.replicas.replicas
    for min_lsn in (None, REPLAYED):
        read = request(min_lsn=min_lsn)
        assert router.choose_reader(read) is replica.sessionmaker
        assert ReadYourWrites.of(read.scope).replica is replica


@pytest.mark.parametrize("read", [request(REPLAYED + 1), request(force_primary=True)])
def test_a_newer_token_or_the_retry_reads_on_the_primary(
    router: ReplicaRouter, read: Request
) -> None:
    assert router.choose_reader(read) is None
    assert ReadYourWrites.of(read.scope).replica is None


async def _fail_on_replica(router: ReplicaRouter, error: Exception) -> None:
    read = request()
    sessionmaker: async_sessionmaker[AsyncReadSession] | None = router.choose_reader(read)
    assert sessionmaker is not None
    async with sessionmaker() as session, router.reading(read, session):
        raise error


async def test_an_unreachable_replica_is_marked_down_and_the_read_retried(
    router: ReplicaRouter,
) -> None:
    error = sa_exc.OperationalError("SELECT 1", None, ConnectionRefusedError(111, "refused"))
    with pytest.raises(ReplicaReadFailed, match="replica-0: OperationalError"):
        await _fail_on_replica(router, error)
    [replica] = router.replicas.replicas
    assert replica.state == "down"
    assert router.choose_reader(request()) is None


async def test_a_recovery_conflict_is_retried_without_marking_the_replica_down(
    router: ReplicaRouter,
) -> None:
    error = sa_exc.DBAPIError("SELECT 1", None, DriverError("40001"))
    with pytest.raises(ReplicaReadFailed):
        await _fail_on_replica(router, error)
    assert router.replicas.replicas[0].state == "ok"


@pytest.mark.parametrize(
    "error", [sa_exc.TimeoutError("QueuePool limit"), ValueError("a bug"), DriverError("42P01")]
)
async def test_other_failures_are_not_failed_over(router: ReplicaRouter, error: Exception) -> None:
    with pytest.raises(type(error)):
        await _fail_on_replica(router, error)
    assert router.replicas.replicas[0].state == "ok"


async def test_reads_on_the_primary_are_not_wrapped(router: ReplicaRouter) -> None:
    read = request(force_primary=True)
    assert router.choose_reader(read) is None
    async with router.db.read_sessionmaker() as session:
        with pytest.raises(ValueError, match="as is"):
            async with router.reading(read, session):
                raise ValueError("as is")
