"""Alembic environment: async engines, both backends, batch mode on SQLite."""

import asyncio
from logging.config import fileConfig
from typing import Any, Literal

from alembic import context
from alembic.autogenerate.api import AutogenContext
from sqlalchemy.engine import Connection, make_url
from sqlmodel.sql.sqltypes import AutoString

from service.database.engines import create_engine
from service.kit.db.errors import causes, is_unavailable, sqlstate
from service.kit.model_base import UTCDateTime
from service.kit.settings import with_async_driver
from service.models import metadata
from service.posts.migration_filters import include_object
from service.settings import get_settings

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


_SETUP_STATES = frozenset({"3D000", "28000", "28P01"})
"""No such database; authentication failed (SQLSTATE): problems of the URL, not of the code."""


OWNS_TRANSACTION = "owns_transaction"
"""config.attributes flag: Alembic opened this connection, so a data revision may commit its
batches (`autocommit_block`); a caller's connection (the tests') keeps one transaction."""


def _configure(connection: Connection) -> None:
    context.configure(
        connection=connection,
        target_metadata=metadata,
        render_as_batch=connection.dialect.name == "sqlite",
        compare_type=True,
        compare_server_default=False,
        render_item=_render_item,
        include_object=include_object,
        # One transaction per revision: a DDL revision is committed before the data revision
        # that follows it starts its batches, and a failure rolls back one revision only.
        transaction_per_migration=True,
    )


def _run(connection: Connection) -> None:
    _configure(connection)
    with context.begin_transaction():
        context.run_migrations()


async def _run_async() -> None:
    settings = get_settings()
    url = with_async_driver(config.get_main_option("sqlalchemy.url") or settings.database_url)
    engine = create_engine(url, settings, role="migrations")
    config.attributes[OWNS_TRANSACTION] = True
    try:
        async with engine.connect() as connection:
            await connection.run_sync(_run)
    except Exception as error:
        if not (is_unavailable(error) or sqlstate(error) in _SETUP_STATES):
            raise
        # One line, not a traceback: an unreachable server or a missing database is a setup
        # problem the user fixes from the message (the password is never shown).
        reason = str(causes(error)[-1]).strip().splitlines()[0] or type(error).__name__
        where = make_url(url).render_as_string(hide_password=True)
        raise SystemExit(f"inkwell: cannot reach the database {where}: {reason}") from None
    finally:
        await engine.dispose()


def run_migrations_online() -> None:
    # Tests hand in a connection of their own (inside their event loop).
    connection = config.attributes.get("connection")
    if connection is not None:
        _run(connection)
    else:
        asyncio.run(_run_async())


def run_migrations_offline() -> None:
    """`alembic upgrade <from>:<to> --sql`: the SQL script for a DBA to review and run.

    The URL names the dialect only (no connection is made). SQLite is always migrated online.
    """
    url = with_async_driver(config.get_main_option("sqlalchemy.url") or get_settings().database_url)
    if make_url(url).get_backend_name() != "postgresql":
        raise SystemExit("inkwell: offline (--sql) migrations are for PostgreSQL URLs only.")
    context.configure(
        url=url,
        target_metadata=metadata,
        literal_binds=True,
        dialect_opts={"paramstyle": "named"},
        transaction_per_migration=True,
        render_item=_render_item,
        include_object=include_object,
    )
    with context.begin_transaction():
        context.run_migrations()


if context.is_offline_mode():
    run_migrations_offline()
else:
    run_migrations_online()
