"""Liveness (process only) and readiness (primary reachable, schema at the Alembic head).

Replicas are reported (state, lag, pool) but never make the service unready: reads fall back
to the primary.
"""

from functools import lru_cache
from pathlib import Path
from typing import Any

from alembic.config import Config
from alembic.script import ScriptDirectory
from fastapi import APIRouter, Request
from fastapi.responses import JSONResponse
from sqlalchemy import text

from service.kit.db.session import DATABASE
from service.kit.lifecycle import LIFECYCLE
from service.replication.replicas import REPLICAS

router = APIRouter(prefix="/health", tags=["health"])

ROOT = Path(__file__).resolve().parents[2]


@lru_cache
def alembic_heads() -> frozenset[str]:
    config = Config(str(ROOT / "alembic.ini"))
    config.set_main_option("script_location", str(ROOT / "migrations"))
    return frozenset(ScriptDirectory.from_config(config).get_heads())


@router.get("/live")
async def live() -> dict[str, str]:
    return {"status": "ok"}


@router.get("/ready", responses={503: {"description": "Not ready"}})
async def ready(request: Request) -> JSONResponse:
    if LIFECYCLE.of(request).shutting_down:
        return JSONResponse({"status": "shutting_down"}, status_code=503)
    db = DATABASE.of(request)
    replicas = REPLICAS.find(request)
    report: dict[str, Any] = {"status": "ok", "primary": "ok", "schema": "ok"}
    if replicas is not None and replicas.replicas:
        report["replicas"] = replicas.report()
    try:
        async with db.primary.connect() as connection:
            revisions = set(
                (
                    await connection.execute(text("SELECT version_num FROM alembic_version"))
                ).scalars()
            )
    except Exception:  # any failure means "not ready"; the reason is logged, not shown
        report |= {"status": "unavailable", "primary": "unreachable", "schema": "unknown"}
        return JSONResponse(report, status_code=503, headers={"Retry-After": "2"})
    if revisions != alembic_heads():
        report |= {"status": "unavailable", "schema": "behind"}
    return JSONResponse(report, status_code=200 if report["status"] == "ok" else 503)
