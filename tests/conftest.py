"""Fixtures: the suite runs once per backend (SQLite, then PostgreSQL), each test in a rollback.

Isolation follows SQLAlchemy's "Joining a Session into an External Transaction": every test
gets one connection inside an outer transaction; the app's sessionmaker is overridden to bind
to it with `join_transaction_mode="create_savepoint"`, so the production `session.begin()` /
commit path still runs (as SAVEPOINT / RELEASE) and the outer rollback erases it all.
"""

import os
import uuid
from collections import Counter
from collections.abc import AsyncIterator, Iterator
from pathlib import Path
from typing import Any

import pytest
from fastapi import FastAPI
from httpx import ASGITransport, AsyncClient
from sqlalchemy import event
from sqlalchemy.engine import make_url
from sqlalchemy.ext.asyncio import AsyncConnection, AsyncEngine, async_sessionmaker
from sqlmodel.ext.asyncio.session import AsyncSession

from service.database.engines import (
    AsyncReadSession,
    create_engine,
    make_read_sessionmaker,
    make_sessionmaker,
)
from service.main import create_app
from service.settings import Settings
from service.users.models import User
from service.users.security import create_access_token, password_hasher
from tests.support import databases
from tests.support.accounts import PASSWORD, Account, AccountFactory
from tests.support.migrations import run_alembic
from tests.support.sessions import bind_sessions, unbind_sessions
from tests.support.settings import make_settings
from tests.support.statements import StatementCounter


def _backends() -> tuple[str, ...]:
    """SQLite, PostgreSQL, and PostgreSQL through PgBouncer (transaction mode) when
    TEST_PGBOUNCER_URL is set; under CI=true the PgBouncer run is mandatory."""
    if os.environ.get("TEST_PGBOUNCER_URL") or databases.in_ci():
        return ("sqlite", "postgresql", "pgbouncer")
    return ("sqlite", "postgresql")


pytest_plugins = [
    "tests.support.scheduling",
    "tests.support.committed",
    "tests.support.cluster",
]
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
SERVER_MODULES = (
    "docs/test_readme.py",
    "kit/test_docs_browser.py",
    "test_dockerfile.py",
    "realtime/test_hub.py",
    "realtime/test_cluster.py",
    "realtime/test_commit.py",
    "realtime/test_sqlite.py",
    "idempotency/test_faults.py",
    "posts/scheduling/test_worker_process.py",
    "replication/test_routing.py",
    "replication/test_tokens.py",
    "replication/test_middleware.py",
    "replication/test_replicas.py",
    "observability/test_logging.py",
    "observability/test_metrics.py",
    "observability/test_multiprocess_metrics.py",
)
"""Modules elsewhere that start a real server, a cluster or a browser: not part of `--quick`."""


def pytest_addoption(parser: pytest.Parser) -> None:
    parser.addoption(
        "--quick",
        action="store_true",
        help="the inner loop (make test-quick): only SQLite and in-process tests; deselects"
        " the PostgreSQL and PgBouncer runs, real servers and clusters, and `slow` tests",
    )


def _not_quick(item: pytest.Item) -> str | None:
    """Why `--quick` leaves this item out, or None when it runs."""
    callspec = getattr(item, "callspec", None)
    if callspec is not None and callspec.params.get("backend", "sqlite") != "sqlite":
        return "--quick: no PostgreSQL or PgBouncer runs"
    relative = item.path.relative_to(TESTS)
    if relative.as_posix() in SERVER_MODULES or any(p in OUT_OF_PROCESS for p in relative.parts):
        return "--quick: no real servers or clusters (tests/ops, hostile, scaleout, ...)"
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


def pytest_collection_modifyitems(config: pytest.Config, items: list[pytest.Item]) -> None:
    """`postgres_only` / `sqlite_only` tests have no run on the other backend (deselected,
    not skipped: under CI=true nothing may skip); the reasons are counted for the summary.
    (Their order and grouping for the xdist workers: tests/support/scheduling.py.)"""
    reasons: Counter[str] = config.stash.setdefault(DESELECTED, Counter())
    quick = config.getoption("quick")
    keep: list[pytest.Item] = []
    drop: list[pytest.Item] = []
    for item in items:
        reason = _wrong_backend(item) or (_not_quick(item) if quick else None)
        if reason is None:
            keep.append(item)
        else:
            reasons[reason] += 1
            drop.append(item)
    if drop:
        config.hook.pytest_deselected(items=drop)
        items[:] = keep


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
    bind_sessions(app, sessionmaker, read_sessionmaker)
    async with AsyncClient(transport=ASGITransport(app), base_url="http://test") as client:
        yield client
    unbind_sessions(app)


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
