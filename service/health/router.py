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
from pydantic import BaseModel, Field
from sqlalchemy import text

from service.database.session import DATABASE
from service.health.lifecycle import LIFECYCLE
from service.kit.http.answers import RETRY_AFTER
from service.kit.http.routing import Route
from service.replication.replicas import REPLICAS

router = APIRouter(prefix="/health", tags=["health"], route_class=Route)

ROOT = Path(__file__).resolve().parents[2]


@lru_cache
def alembic_heads() -> frozenset[str]:
    config = Config(str(ROOT / "alembic.ini"))
    config.set_main_option("script_location", str(ROOT / "migrations"))
    return frozenset(ScriptDirectory.from_config(config).get_heads())


class Liveness(BaseModel):
    status: str


class Readiness(BaseModel):
    status: str
    """ok | unavailable | shutting_down"""
    primary: str | None = None
    schema_: str | None = Field(default=None, alias="schema")
    replicas: list[dict[str, Any]] | None = None


_NOT_READY = {
    "model": Readiness,
    "description": "Not ready: shutting down, primary unreachable, or schema behind the code",
    "headers": {"Retry-After": {**RETRY_AFTER.document(), "required": False}},
}


@router.get(
    "/live",
    response_model=Liveness,
    summary="Liveness probe",
    description="The process is up and serving (no database involved).",
)
async def live() -> dict[str, str]:
    return {"status": "ok"}


@router.get(
    "/ready",
    response_model=Readiness,
    responses={503: _NOT_READY},
    summary="Readiness probe",
    description="200 when the primary answers and its schema is at the code's Alembic head; "
    "503 otherwise, and while shutting down. Replicas are reported (state, lag) but never make "
    "the service unready: reads fall back to the primary.",
)
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
