"""An app on a committed database whose job worker and webhook sender run only when a test
drains them, with quick retries; and what a test reads back from its tables."""

from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from dataclasses import dataclass
from datetime import datetime
from typing import Any

from fastapi import FastAPI
from httpx import AsyncClient
from sqlalchemy import bindparam, text

from service.database.session import DATABASE
from service.jobs.worker import JOBS
from service.kit.model_base import UTCDateTime
from service.main import create_app
from service.webhooks.runtime import WEBHOOKS
from tests.support.api import asgi_client
from tests.support.settings import make_settings


@dataclass
class Hooks:
    app: FastAPI
    client: AsyncClient

    async def deliver(self) -> int:
        """Run the queued jobs (events become deliveries), then send what is due."""
        await JOBS.of(self.app).drain()
        return await WEBHOOKS.of(self.app).sender.drain()

    async def rows(self, sql: str, **params: Any) -> list[Any]:
        async with DATABASE.of(self.app).sessionmaker() as session:
            connection = await session.connection()
            return list((await connection.execute(text(sql), params)).all())

    async def execute(self, sql: str, **moments: datetime) -> None:
        """An UPDATE that moves time (`moments` bound as the models store datetimes)."""
        statement = text(sql).bindparams(*(bindparam(k, type_=UTCDateTime) for k in moments))
        async with DATABASE.of(self.app).sessionmaker() as session, session.begin():
            await (await session.connection()).execute(statement, moments)


@asynccontextmanager
async def hooks_app(url: str, **overrides: Any) -> AsyncIterator[Hooks]:
    overrides = {
        "jobs_embedded": False,
        "webhook_backoff_seconds": 0.05,
        "webhook_backoff_max_seconds": 0.05,
        **overrides,
    }
    app = create_app(make_settings(url, **overrides))
    async with app.router.lifespan_context(app), asgi_client(app) as client:
        yield Hooks(app, client)
