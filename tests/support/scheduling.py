"""A pytest plugin (tests/conftest.py loads it): the order of the tests, their xdist groups,
the cluster lock around each test, and the tests slower than 20 s that no marker explains.

- `slow(reason)`: more than 20 s; scheduled first, so that no long test starts near the end.
- `exclusive(reason)`: restarts, stops or pauses a cluster node; one xdist group (one worker,
  one after another), scheduled last, run under the exclusive lock of tests/support/workers.py,
  which every other test that may touch PostgreSQL holds shared.
"""

from collections.abc import Generator

import pytest

from tests.support import databases
from tests.support.workers import cluster_lock

SLOW_SECONDS = 20.0


def _check_reason(item: pytest.Item) -> None:
    for name in ("slow", "exclusive"):
        for mark in item.iter_markers(name):
            if len(mark.args) != 1 or not isinstance(mark.args[0], str) or mark.kwargs:
                message = f"{item.nodeid}: @pytest.mark.{name}(reason) takes one reason"
                raise pytest.UsageError(message)


def touches_postgres(item: pytest.Item) -> bool:
    """Tests of the SQLite backend never do; any other test may."""
    callspec = getattr(item, "callspec", None)
    return callspec is None or callspec.params.get("backend") != "sqlite"


def _run_order(item: pytest.Item) -> int:
    """`slow` first, `exclusive` last (when nothing but the tests still running on the other
    workers has to finish first). A stable sort: pytest's grouping by backend stays."""
    if item.get_closest_marker("exclusive"):
        return 2
    return 0 if item.get_closest_marker("slow") else 1


@pytest.hookimpl(wrapper=True)
def pytest_collection_modifyitems(items: list[pytest.Item]) -> Generator[None]:
    """Groups before xdist reads them; the order after pytest's own (by backend)."""
    for item in items:
        _check_reason(item)
        if item.get_closest_marker("exclusive"):
            item.add_marker(pytest.mark.xdist_group("exclusive"))
    yield
    items.sort(key=_run_order)


@pytest.hookimpl(wrapper=True)
def pytest_runtest_protocol(
    item: pytest.Item, nextitem: pytest.Item | None
) -> Generator[None, object, object]:
    """Setup, call and teardown under the server's lock: exclusive for `exclusive` tests,
    shared for any other test that may touch PostgreSQL (and for a worker's last test, whose
    teardown drops its session databases)."""
    exclusive = item.get_closest_marker("exclusive") is not None
    if not (exclusive or touches_postgres(item) or nextitem is None):
        return (yield)
    with cluster_lock(databases.server_url(), exclusive=exclusive):
        return (yield)


_seconds: dict[str, float] = {}
"""Setup + call + teardown per test without a `slow` marker, as the reports arrive (in the
xdist controller, or in the only process)."""


def pytest_runtest_logreport(report: pytest.TestReport) -> None:
    if "slow" not in report.keywords:
        _seconds[report.nodeid] = _seconds.get(report.nodeid, 0.0) + report.duration


def pytest_terminal_summary(terminalreporter: pytest.TerminalReporter) -> None:
    """Name the tests slower than SLOW_SECONDS that carry no `slow(reason)` (a busy machine
    can push a test over; one that is always there needs the marker, or a fix)."""
    unmarked = {n: s for n, s in _seconds.items() if s > SLOW_SECONDS}
    if not unmarked:
        return
    terminalreporter.write_sep("-", f"{len(unmarked)} tests over {SLOW_SECONDS:.0f} s without slow")
    for nodeid, seconds in sorted(unmarked.items(), key=lambda pair: -pair[1]):
        terminalreporter.write_line(f"  {seconds:6.1f} s  {nodeid}")
