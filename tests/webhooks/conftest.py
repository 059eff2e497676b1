"""A committed database of its own per test and an app on it whose worker and sender do not run
by themselves: the tests drain them (`Hooks`)."""

from collections.abc import AsyncIterator
from pathlib import Path

import pytest

from tests.support.migrations import backend_database
from tests.support.webhook_app import Hooks, hooks_app


@pytest.fixture
async def committed(backend: str, tmp_path: Path) -> AsyncIterator[str]:
    async with backend_database(backend, tmp_path, "webhooks") as url:
        yield url


@pytest.fixture
async def hooks(committed: str) -> AsyncIterator[Hooks]:
    async with hooks_app(committed, webhook_allowed_hosts=["127.0.0.1"]) as running:
        yield running
