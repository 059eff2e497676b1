"""Fixtures: the suite runs once per backend (SQLite, then PostgreSQL), each test in a rollback.

Isolation follows SQLAlchemy's "Joining a Session into an External Transaction": every test
gets one connection inside an outer transaction; the app's sessionmaker is overridden to bind
to it with `join_transaction_mode="create_savepoint"`, so the production `session.begin()` /
commit path still runs (as SAVEPOINT / RELEASE) and the outer rollback erases it all.
"""

import os
import uuid
from collections import Counter
from collections.abc import AsyncIterator, Generator, Iterator
from pathlib import Path
from typing import Any

import pytest
from fastapi import FastAPI
from httpx import ASGITransport, AsyncClient
from sqlalchemy import event
from sqlalchemy.engine import make_url
from sqlalchemy.ext.asyncio import AsyncConnection, AsyncEngine, async_sessionmaker
from sqlmodel.ext.asyncio.session import AsyncSession

from service.kit.db.engines import (
    AsyncReadSession,
    create_engine,
    make_read_sessionmaker,
    make_sessionmaker,
)
from service.kit.db.session import REQUEST_SESSIONS, RequestSessions
from service.kit.settings import Settings
from service.main import create_app
from service.users.models import User
from service.users.security import create_access_token, password_hasher
from tests.support import databases
from tests.support.accounts import PASSWORD, Account, AccountFactory
from tests.support.migrations import run_alembic
from tests.support.settings import make_settings
from tests.support.statements import StatementCounter
from tests.support.workers import cluster_lock


def _backends() -> tuple[str, ...]:
    """SQLite, PostgreSQL, and PostgreSQL through PgBouncer (transaction mode) when
    TEST_PGBOUNCER_URL is set; under CI=true the PgBouncer run is mandatory."""
    if os.environ.get("TEST_PGBOUNCER_URL") or databases.in_ci():
        return ("sqlite", "postgresql", "pgbouncer")
    return ("sqlite", "postgresql")


BACKENDS = _backends()
TESTS = Path(__file__).parent
PGBOUNCER_SUITES = ("test_router.py",)
"""The API test modules (and all of tests/posts/) also run through PgBouncer."""


def pytest_report_header(config: pytest.Config) -> list[str]:
    """Which backends this run uses, and where they are (printed under "rootdir:")."""
    postgres = make_url(databases.server_url()).render_as_string(hide_password=True)
    lines = [
        f"backends: {', '.join(BACKENDS)} (test ids end in [{']/['.join(BACKENDS)}])",
        f"  sqlite: a temporary file per run; postgresql: throw-away databases on {postgres}"
        " (TEST_DATABASE_URL)"
        + (
            "; unreachable: fails under CI=true"
            if databases.in_ci()
            else "; skipped if unreachable"
        ),
    ]
    if "pgbouncer" in BACKENDS:
        pgbouncer = os.environ.get("TEST_PGBOUNCER_URL") or "unset: fails (CI=true)"
        lines.append(f"  pgbouncer: the API modules through {pgbouncer} (TEST_PGBOUNCER_URL)")
    else:
        lines.append("  pgbouncer: not run (TEST_PGBOUNCER_URL unset; scripts/db-up.sh prints it)")
    return lines


OUT_OF_PROCESS = ("ops", "hostile", "scaleout", "container")
"""Folders whose tests start real servers, clusters or images: not part of `--quick`."""


def pytest_addoption(parser: pytest.Parser) -> None:
    parser.addoption(
        "--quick",
        action="store_true",
        help="the inner loop (make test-quick): only SQLite and in-process tests; deselects"
        " the PostgreSQL and PgBouncer runs, tests/{ops,hostile,scaleout}/ and `slow` tests",
    )


def _not_quick(item: pytest.Item) -> str | None:
    """Why `--quick` leaves this item out, or None when it runs."""
    callspec = getattr(item, "callspec", None)
    if callspec is not None and callspec.params.get("backend", "sqlite") != "sqlite":
        return "--quick: no PostgreSQL or PgBouncer runs"
    if any(part in OUT_OF_PROCESS for part in item.path.relative_to(TESTS).parts[:-1]):
        return "--quick: no real servers or clusters (tests/ops, hostile, scaleout)"
    if item.get_closest_marker("slow") or item.get_closest_marker("exclusive"):
        return "--quick: no slow tests"
    return None


DESELECTED = pytest.StashKey[Counter[str]]()
"""Why `pytest_collection_modifyitems` deselected tests: reason -> count."""


def _wrong_backend(item: pytest.Item) -> str | None:
    """Why this item has no run on its backend, or None when it runs."""
    callspec = getattr(item, "callspec", None)
    backend = callspec.params.get("backend") if callspec is not None else None
    if backend == "sqlite" and item.get_closest_marker("postgres_only"):
        return "postgres_only: no [sqlite] run"
    if backend in {"postgresql", "pgbouncer"} and item.get_closest_marker("sqlite_only"):
        return f"sqlite_only: no [{backend}] run"
    if backend == "pgbouncer" and not _runs_through_pgbouncer(item):
        return "[pgbouncer] runs only the API modules (test_router.py, tests/posts/)"
    return None


@pytest.hookimpl(wrapper=True)
def pytest_collection_modifyitems(
    config: pytest.Config, items: list[pytest.Item]
) -> Generator[None]:
    """`postgres_only` / `sqlite_only` tests have no run on the other backend (deselected,
    not skipped: under CI=true nothing may skip); the reasons are counted for the summary.
    `exclusive` tests form one xdist group (one worker, one after another). After the other
    hooks (pytest's grouping by backend): the order of `_run_order`."""
    reasons: Counter[str] = config.stash.setdefault(DESELECTED, Counter())
    quick = config.getoption("quick")
    keep: list[pytest.Item] = []
    drop: list[pytest.Item] = []
    for item in items:
        _check_reasons(item)
        if item.get_closest_marker("exclusive"):
            item.add_marker(pytest.mark.xdist_group("exclusive"))
        reason = _wrong_backend(item) or (_not_quick(item) if quick else None)
        if reason is None:
            keep.append(item)
        else:
            reasons[reason] += 1
            drop.append(item)
    if drop:
        config.hook.pytest_deselected(items=drop)
        items[:] = keep
    yield
    items.sort(key=_run_order)


def _check_reasons(item: pytest.Item) -> None:
    for name in ("slow", "exclusive"):
        for mark in item.iter_markers(name):
            if len(mark.args) != 1 or not isinstance(mark.args[0], str) or mark.kwargs:
                message = f"{item.nodeid}: @pytest.mark.{name}(reason) takes one reason"
                raise pytest.UsageError(message)


def _touches_postgres(item: pytest.Item) -> bool:
    """Tests of the SQLite backend never do; any other test may."""
    callspec = getattr(item, "callspec", None)
    return callspec is None or callspec.params.get("backend") != "sqlite"


def _run_order(item: pytest.Item) -> int:
    """`slow` tests first, so that none starts near the end; `exclusive` tests last, when
    nothing but the tests still running on the other workers has to wait for them. A stable
    sort: pytest's grouping by backend stays within each part."""
    if item.get_closest_marker("exclusive"):
        return 2
    return 0 if item.get_closest_marker("slow") else 1


@pytest.hookimpl(wrapper=True)
def pytest_runtest_protocol(
    item: pytest.Item, nextitem: pytest.Item | None
) -> Generator[None, object, object]:
    """Setup, call and teardown under the server's lock (tests/support/workers.py): exclusive
    for `exclusive` tests, shared for any other test that may touch PostgreSQL (and for a
    worker's last test, whose teardown drops its session databases)."""
    if not (_touches_postgres(item) or nextitem is None or item.get_closest_marker("exclusive")):
        return (yield)
    exclusive = item.get_closest_marker("exclusive") is not None
    with cluster_lock(databases.server_url(), exclusive=exclusive):
        return (yield)


def pytest_terminal_summary(terminalreporter: pytest.TerminalReporter) -> None:
    """Say why the "N deselected" of the last line were deselected."""
    total = len(terminalreporter.stats.get("deselected", []))
    if not total:
        return
    reasons = terminalreporter.config.stash.get(DESELECTED, Counter())
    parts = [f"{count} {reason}" for reason, count in sorted(reasons.items())]
    by_expression = total - sum(reasons.values())
    if by_expression:
        markexpr = terminalreporter.config.getoption("markexpr") or ""
        keywords = terminalreporter.config.getoption("keyword") or ""
        expression = " ".join(f"{o} {v!r}" for o, v in (("-m", markexpr), ("-k", keywords)) if v)
        parts.append(f"{by_expression} by {expression or 'an expression'}")
    terminalreporter.write_sep("-", f"{total} deselected")
    for part in parts:
        terminalreporter.write_line(f"  {part}")


def _runs_through_pgbouncer(item: pytest.Item) -> bool:
    path = item.path
    return path.name in PGBOUNCER_SUITES or "posts" in path.parts


@pytest.fixture(scope="session", params=BACKENDS)
def backend(request: pytest.FixtureRequest) -> str:
    name: str = request.param
    return name


@pytest.fixture(scope="session")
async def database_url(
    backend: str, tmp_path_factory: pytest.TempPathFactory
) -> AsyncIterator[str]:
    if backend == "sqlite":
        yield f"sqlite+aiosqlite:///{tmp_path_factory.mktemp('sqlite') / 'inkwell.db'}"
        return
    if backend == "pgbouncer":
        pgbouncer = os.environ.get("TEST_PGBOUNCER_URL")
        if not pgbouncer:
            databases.unavailable("TEST_PGBOUNCER_URL is not set (run scripts/db-up.sh)")
            raise AssertionError("unreachable")
        # the database is created on the server PgBouncer proxies to; clients go through it
        async with databases.postgres_database("pgbouncer") as direct:
            proxied = make_url(pgbouncer).set(database=make_url(direct).database)
            yield proxied.render_as_string(hide_password=False)
        return
    async with databases.postgres_database("suite") as url:
        yield url


@pytest.fixture(scope="session")
def settings(backend: str, database_url: str) -> Settings:
    return make_settings(database_url, db_pgbouncer=backend == "pgbouncer")


@pytest.fixture(scope="session")
async def engine(settings: Settings) -> AsyncIterator[AsyncEngine]:
    engine = create_engine(settings.database_url, settings, role="tests")
    async with engine.begin() as connection:
        await run_alembic(connection, "upgrade", "head")
    yield engine
    await engine.dispose()


@pytest.fixture(scope="session")
async def app(settings: Settings, engine: AsyncEngine) -> AsyncIterator[FastAPI]:
    app = create_app(settings)
    async with app.router.lifespan_context(app):
        yield app


@pytest.fixture
async def connection(engine: AsyncEngine) -> AsyncIterator[AsyncConnection]:
    async with engine.connect() as connection:
        transaction = await connection.begin()
        yield connection
        await transaction.rollback()


@pytest.fixture
def sessionmaker(connection: AsyncConnection) -> async_sessionmaker[AsyncSession]:
    return make_sessionmaker(connection, join_transaction_mode="create_savepoint")


@pytest.fixture
def read_sessionmaker(connection: AsyncConnection) -> async_sessionmaker[AsyncReadSession]:
    """Reads join the test transaction without savepoints of their own (they never commit),
    so a read session and a write session of one request can interleave on one connection."""
    return make_read_sessionmaker(connection, join_transaction_mode="rollback_only")


@pytest.fixture
async def client(
    app: FastAPI,
    sessionmaker: async_sessionmaker[AsyncSession],
    read_sessionmaker: async_sessionmaker[AsyncReadSession],
) -> AsyncIterator[AsyncClient]:
    REQUEST_SESSIONS.put(app, RequestSessions(sessionmaker, read_sessionmaker))
    async with AsyncClient(transport=ASGITransport(app), base_url="http://test") as client:
        yield client
    REQUEST_SESSIONS.clear(app)


@pytest.fixture(scope="session")
def password_hash(settings: Settings) -> str:
    """Hashed once per backend, at the suite's cost (TEST_HASH_COST)."""
    return password_hasher(settings).hash(PASSWORD)


@pytest.fixture
def make_account(
    sessionmaker: async_sessionmaker[AsyncSession], settings: Settings, password_hash: str
) -> AccountFactory:
    """Create a user directly (hashing once per run) and a bearer token for it."""
    counter = iter(range(1_000_000))

    async def factory(username: str | None = None) -> Account:
        name = username or f"user_{next(counter)}_{uuid.uuid4().hex[:6]}"
        async with sessionmaker() as session, session.begin():
            user = User(username=name, email=f"{name}@example.com", password_hash=password_hash)
            session.add(user)
            await session.flush()
        assert user.id is not None
        token = create_access_token(settings, user_id=user.id, token_version=0)
        return Account(user, {"Authorization": f"Bearer {token}"})

    return factory


@pytest.fixture
def statements(engine: AsyncEngine) -> Iterator[StatementCounter]:
    """Counts SQL statements sent through the test engine (N+1 guard)."""
    counter = StatementCounter()

    def _count(*_: Any) -> None:
        counter.count += 1

    event.listen(engine.sync_engine, "before_cursor_execute", _count)
    yield counter
    event.remove(engine.sync_engine, "before_cursor_execute", _count)
