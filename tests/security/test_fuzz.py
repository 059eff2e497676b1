"""Schemathesis against the app's own OpenAPI document, in-process (ASGI), with a real user.

Its engine runs as its command line would, per backend: every phase (examples, coverage,
fuzzing with valid and invalid data, stateful sequences along the document's links) and every
check (no 5xx, documented statuses, content types, headers and bodies, valid data accepted,
invalid data rejected, 405 with `Allow` for undeclared methods, auth enforced, resources
available after creation and gone after deletion...). It must find nothing.

A throw-away database per backend: schemathesis drives the app from its own event-loop thread,
so the rollback-per-test connection of the suite cannot be shared; nothing here outlives the run.
"""

import gc
import logging
import uuid
from collections.abc import AsyncIterator, Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import pytest
import schemathesis
from fastapi import FastAPI
from schemathesis.config import SchemathesisConfig
from schemathesis.engine import Status, events, from_schema
from schemathesis.engine.run import PhaseName
from schemathesis.engine.statistic import Statistic
from schemathesis.python import asgi
from sqlalchemy.ext.asyncio import AsyncEngine

from service.database.engines import create_engine
from service.idempotency.dependency import HEADER as IDEMPOTENCY_KEY
from service.main import create_app
from service.settings import Settings
from service.users.security import create_access_token
from tests.support import databases
from tests.support.accounts import PASSWORD
from tests.support.migrations import run_alembic
from tests.support.settings import make_settings

MAX_EXAMPLES = 40
"""Per operation and phase (and stateful scenarios); ~185 s a backend, CPU-bound. At 40 again
since the suite runs on pytest-xdist workers (it was 30 while the suite ran serially)."""
STATEFUL_STEPS = 10
"""At 6 the stateful phase stopped after ~100 steps; at 10 it runs 400-600 and found a
deleted comment whose replies were still listed."""
TOKEN_SECONDS = 7 * 24 * 3600
"""The fuzzing user's token outlives any run (only a fuzzed password change or account
deletion revokes it, and then the user is replaced)."""
TESTING_PHASES = (
    PhaseName.EXAMPLES,
    PhaseName.COVERAGE,
    PhaseName.FUZZING,
    PhaseName.STATEFUL_TESTING,
)
ME = "/api/v1/users/me"
ACCEPTED = ["2xx", "3xx", "401", "403", "404", "409", "429", "5xx"]
REJECTED = ["400", "401", "403", "404", "405", "406", "409", "415", "422", "428", "429", "5xx"]
"""Schemathesis' defaults, which the configuration below extends."""
log = logging.getLogger("inkwell.tests.fuzz")


@pytest.fixture(scope="session")
async def fuzz_url(backend: str, tmp_path_factory: pytest.TempPathFactory) -> AsyncIterator[str]:
    async def migrate(url: str) -> None:
        engine: AsyncEngine = create_engine(url, make_settings(url))
        async with engine.begin() as connection:
            await run_alembic(connection, "upgrade", "head")
        await engine.dispose()

    if backend == "sqlite":
        path: Path = tmp_path_factory.mktemp("fuzz") / "fuzz.db"
        url = f"sqlite+aiosqlite:///{path}"
        await migrate(url)
        yield url
        return
    async with databases.postgres_database("fuzz") as url:
        await migrate(url)
        yield url


@pytest.fixture(scope="session")
def fuzz_app(fuzz_url: str) -> Iterator[FastAPI]:
    settings = make_settings(
        fuzz_url,
        login_rate_limit="1000000/minute",
        login_address_rate_limit="1000000/minute",
        jwt_expire_seconds=TOKEN_SECONDS,
    )
    app = create_app(settings)
    yield app
    # schemathesis keeps every started lifespan (and so the app) alive until exit: stop it now,
    # so the pool closes before the database is dropped, and let go of the engines so none
    # lingers in process-wide state (the pool metrics sample every live engine).
    asgi.shutdown_lifespans()
    for name in ("db", "realtime"):
        if hasattr(app.state, name):
            delattr(app.state, name)
    gc.collect()


@dataclass
class FuzzUser:
    """A registered user with a long-lived token; replaced when a fuzzed request revoked it."""

    app: Any  # schemathesis' ASGI client is typed for plain ASGI callables
    settings: Settings
    token: str = ""
    renewals: int = 0

    def renew(self) -> None:
        name = f"fuzz_{uuid.uuid4().hex[:12]}"
        with asgi.get_client(self.app) as client:
            response = client.post(
                "http://testserver/api/v1/users",
                json={"username": name, "email": f"{name}@example.com", "password": PASSWORD},
            )
        assert response.status_code == 201, response.text
        user_id = response.json()["id"]
        self.token = create_access_token(self.settings, user_id=user_id, token_version=0)
        self.renewals += 1

    def after_call(self, method: str, path: str, status: int) -> None:
        """A password change (PATCH) or a deletion of the account revokes the token."""
        if path == ME and method in {"PATCH", "DELETE"} and status < 300:
            self.renew()


@dataclass
class Report:
    failures: list[str] = field(default_factory=list)
    phases: dict[PhaseName, Status] = field(default_factory=dict)
    calls: int = 0
    statuses: dict[int, int] = field(default_factory=dict)
    cases: dict[PhaseName, int] = field(default_factory=dict)
    """Test cases per phase (a stateful case is one step of a scenario)."""


def _config(token_seconds: int) -> SchemathesisConfig:
    return SchemathesisConfig.from_dict(
        {
            "seed": 1,
            "workers": 1,
            "generation": {
                "mode": "all",
                "max-examples": MAX_EXAMPLES,
                "deterministic": True,
                "database": "none",
                # NUL is refused by design (422 in bodies, 400 in queries; test_property_level):
                # without this, every schema-valid string could be a "rejected positive" case.
                "allow-x00": False,
            },
            "phases": {"stateful": {"max-steps": STATEFUL_STEPS}},
            # A schema-valid webhook URL may name a private address or a host that does not
            # resolve: a 422 by design (SPEC, Webhooks), on these operations only.
            "operations": [
                {
                    "include-tag": "webhooks",
                    "checks": {
                        "positive_data_acceptance": {
                            "expected-statuses": [*ACCEPTED, "400", "412", "422"]
                        }
                    },
                },
                # `publish_at` must lie in the future, only with `status: scheduled` (and a PATCH
                # to `scheduled` needs one unless the post already has one): rules of the clock
                # and of the post's state that no schema states, a 422 by design (SPEC).
                {
                    "include-name": ["POST /api/v1/posts", "PATCH /api/v1/posts/{post_id}"],
                    "checks": {
                        "positive_data_acceptance": {
                            "expected-statuses": [*ACCEPTED, "400", "412", "422"]
                        }
                    },
                },
            ],
            "checks": {
                "enabled": True,
                # Schema-valid yet rightly refused by the state of the data, like the 404/409
                # schemathesis expects already: 400 for a cursor the server did not sign (an
                # HMAC no schema can describe), following yourself, a parent comment of another
                # post; 412 for an If-Match naming another version.
                "positive_data_acceptance": {"expected-statuses": [*ACCEPTED, "400", "412"]},
                # A huge invalid body is refused before validation, with 413: a rejection too.
                "negative_data_rejection": {"expected-statuses": [*REJECTED, "413"]},
            },
        }
    )


def run_schemathesis(app: FastAPI, user: FuzzUser) -> Report:
    """The engine's whole run, its failures formatted as its command line prints them."""
    schema = schemathesis.openapi.from_asgi("/openapi.json", app, config=_config(TOKEN_SECONDS))
    report = Report()

    @schema.auth(refresh_interval=None)
    class LongLivedToken:
        def get(self, case: Any, context: Any) -> str:
            return user.token

        def set(self, case: Any, data: str, context: Any) -> None:
            case.headers = {**(case.headers or {}), "Authorization": f"Bearer {data}"}

    @schema.hook
    def after_call(context: Any, case: Any, response: Any) -> None:
        report.calls += 1
        status = response.status_code
        report.statuses[status] = report.statuses.get(status, 0) + 1
        user.after_call(case.method.upper(), case.formatted_path, status)

    def before_call(context: Any, case: Any, kwargs: Any) -> None:
        # A fresh valid key per request: the same key with another body is a 422 by design.
        key = (case.headers or {}).get(IDEMPOTENCY_KEY)
        if isinstance(key, str) and 1 <= len(key) <= 255:
            case.headers[IDEMPOTENCY_KEY] = uuid.uuid4().hex

    statistic = Statistic()
    schemathesis.hook(before_call)
    try:
        for event in from_schema(schema).execute():
            if isinstance(event, events.ScenarioFinished):
                statistic.on_scenario_finished(event.recorder)
                cases = len(event.recorder.cases)
                report.cases[event.phase] = report.cases.get(event.phase, 0) + cases
            elif isinstance(event, events.PhaseFinished):
                report.phases[event.phase.name] = event.status
            elif isinstance(event, events.NonFatalError):
                report.failures.append(f"error in {event.label}: {event.info.format()}")
            elif isinstance(event, events.FatalError):
                report.failures.append(f"fatal: {event.exception!r}")
            elif isinstance(event, events.EngineFinished):
                report.failures.extend(f"run: {failure.title}" for failure in event.failures)
    finally:
        schemathesis.hooks.unregister(before_call)
    for label, groups in statistic.failures.items():
        for group in groups.values():
            formatted = group.format(
                index=None, curl=group.code_sample, config=schema.config.output
            )
            report.failures.append(f"{label}\n{formatted}")
    return report


@pytest.mark.slow("schemathesis: every operation, phase and check at 40 examples, CPU-bound")
# Hypothesis warns when it formats a large failing example (a 100 kB body); as an error that
# warning replaced the failure it was reporting.
@pytest.mark.filterwarnings("ignore:Generating overly large repr")
def test_schemathesis_finds_nothing(fuzz_app: FastAPI) -> None:
    user = FuzzUser(fuzz_app, fuzz_app.state.settings)
    user.renew()
    report = run_schemathesis(fuzz_app, user)
    log.info(
        "schemathesis: %d calls, statuses %s, cases per phase %s, %d token renewals",
        report.calls,
        sorted(report.statuses.items()),
        {phase.value: report.cases.get(phase, 0) for phase in TESTING_PHASES},
        user.renewals,
    )
    assert not report.failures, "\n\n".join(report.failures)
    for phase in TESTING_PHASES:
        assert report.phases.get(phase) == Status.SUCCESS, (phase, report.phases)
        assert report.cases.get(phase, 0) >= 20, (phase, report.cases)
    assert report.calls >= 1000
    assert sum(n for status, n in report.statuses.items() if status < 300) >= 100
