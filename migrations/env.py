"""Alembic environment: async engines, both backends, batch mode on SQLite."""

import asyncio
from logging.config import fileConfig
from typing import Any, Literal

from alembic import context
from alembic.autogenerate.api import AutogenContext
from sqlalchemy.engine import Connection
from sqlmodel.sql.sqltypes import AutoString

from service.core.db import create_engine
from service.core.model_base import UTCDateTime
from service.core.settings import get_settings
from service.models import metadata

config = context.config
if config.config_file_name is not None and config.attributes.get("configure_logger", True):
    fileConfig(config.config_file_name, disable_existing_loggers=False)


def _render_item(kind: str, obj: Any, _: AutogenContext) -> str | Literal[False]:
    """Render the app's column types as plain SQLAlchemy ones: migrations never import the app."""
    if kind == "type" and isinstance(obj, UTCDateTime):
        return "sa.DateTime(timezone=True)"
    if kind == "type" and isinstance(obj, AutoString):
        return f"sa.String(length={obj.length})" if obj.length else "sa.String()"
    return False


# PostgreSQL-only schema objects created by hand in migrations and not modelled (the model
# serves both backends): the generated tsvector column with its GIN index, the GIN index on
# `metadata`, and SQLite's FTS5 table (plus its shadow tables). Autogenerate and the drift
# test ignore them; tests/posts/test_search.py checks that they exist.
UNMODELLED_COLUMNS = {("posts", "search_vector")}
UNMODELLED_INDEXES = {"ix_posts_search_vector", "ix_posts_metadata"}
UNMODELLED_TABLE_PREFIX = "posts_fts"


def _include_object(
    obj: Any, name: str | None, type_: str, reflected: bool, compare_to: Any
) -> bool:
    if type_ == "table" and name is not None and name.startswith(UNMODELLED_TABLE_PREFIX):
        return False
    if type_ == "column" and (getattr(obj.table, "name", None), name) in UNMODELLED_COLUMNS:
        return False
    return not (type_ == "index" and name in UNMODELLED_INDEXES)


def _configure(connection: Connection) -> None:
    context.configure(
        connection=connection,
        target_metadata=metadata,
        render_as_batch=connection.dialect.name == "sqlite",
        compare_type=True,
        compare_server_default=False,
        render_item=_render_item,
        include_object=_include_object,
    )


def _run(connection: Connection) -> None:
    _configure(connection)
    with context.begin_transaction():
        context.run_migrations()


async def _run_async() -> None:
    settings = get_settings()
    url = config.get_main_option("sqlalchemy.url") or settings.database_url
    engine = create_engine(url, settings, role="migrations")
    try:
        async with engine.connect() as connection:
            await connection.run_sync(_run)
    finally:
        await engine.dispose()


def run_migrations_online() -> None:
    # Tests hand in a connection of their own (inside their event loop).
    connection = config.attributes.get("connection")
    if connection is not None:
        _run(connection)
    else:
        asyncio.run(_run_async())


if context.is_offline_mode():
    raise SystemExit("Offline (--sql) migrations are not supported; run against a database.")
run_migrations_online()
