"""The users section of the settings: access tokens (JWT), password hashing, and the serving
limits of callers (the login throttle and the per-caller budgets of `users/dependencies.py`)."""

import os
import secrets
from pathlib import Path
from typing import Any, Literal, Self

from limits import parse
from pydantic import Field, field_validator, model_validator
from sqlalchemy.engine import make_url

from service.database.settings import DatabaseSettings
from service.kit.settings import section_slot, with_async_driver

DEV_JWT_SECRET = "dev-insecure-jwt-secret-change-me-0123456789"
"""The public secret older versions used by default: refused in production."""
JWT_SECRET_FILE = ".inkwell-jwt-secret"


def development_secret(
    database_url: str, path: str | None, *, filename: str = JWT_SECRET_FILE
) -> str:
    """The secret kept beside the data (mode 0600), created on first start: tokens survive a
    restart, and nobody else knows it. Several workers starting at once agree on one file."""
    if path is None:
        database = make_url(with_async_driver(database_url)).database
        sqlite = database_url.startswith("sqlite") and database not in (None, "", ":memory:")
        path = str(Path(database or ".").parent / filename) if sqlite else filename
    target = Path(path)
    target.parent.mkdir(parents=True, exist_ok=True)
    try:
        descriptor = os.open(target, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
    except FileExistsError:
        return target.read_text(encoding="utf-8").strip()
    with os.fdopen(descriptor, "w", encoding="utf-8") as handle:
        handle.write(secrets.token_urlsafe(48))
    return target.read_text(encoding="utf-8").strip()


class UsersSettings(DatabaseSettings):
    # Access tokens. The composition root also signs cursors and consistency tokens with it.
    jwt_secret: str = Field(
        min_length=32,
        description="required in production; development keeps a generated one in JWT_SECRET_FILE",
    )
    jwt_secret_file: str | None = Field(
        default=None,
        description="where development keeps its generated secret (default: beside the SQLite"
        " database, else ./.inkwell-jwt-secret)",
    )
    jwt_algorithm: Literal["HS256", "HS384", "HS512"] = "HS256"
    jwt_issuer: str = "inkwell"
    jwt_audience: str = "inkwell-api"
    jwt_expire_seconds: int = Field(default=3600, ge=60)

    # Password hashing (argon2), off the event loop and out of the database's way.
    password_hash_concurrency: int = Field(
        default=0, ge=0, description="password hashes run at once per process (0: CPU count)"
    )
    password_hash_queue: int = Field(
        default=512,
        ge=0,
        description="password hashes that may wait for a turn per process; past it: 503",
    )
    password_hash_memory_kib: int = Field(
        default=65536,
        ge=32,
        description="argon2 memory cost of a new hash (KiB); below the default only outside"
        " production (the test suite uses a tiny one)",
    )
    password_hash_time_cost: int = Field(
        default=3, ge=1, description="argon2 passes of a new hash; below 3 only outside production"
    )

    # Serving limits: the login throttle (`users/ratelimit.py`) and the per-caller budgets.
    login_rate_limit: str = Field(
        default="10/minute",
        description="FAILED logins per username (limits syntax); its next success clears them",
    )
    login_address_rate_limit: str = Field(
        default="100/minute",
        description="FAILED logins per client address, whatever the username; successes are free",
    )
    write_rate_limit: str = Field(
        default="300/minute",
        description="writes per user (per client address when anonymous); empty or off: none",
    )
    search_rate_limit: str = Field(
        default="120/minute", description="full-text searches per user (per address when anonymous)"
    )
    export_rate_limit: str = Field(
        default="10/minute", description="exports per user (per client address when anonymous)"
    )

    @model_validator(mode="before")
    @classmethod
    def _secret_when_missing(cls, values: Any) -> Any:
        if not isinstance(values, dict) or values.get("jwt_secret"):
            return values
        environment = values.get("environment", "development")
        if environment == "production":
            raise ValueError("JWT_SECRET must be set in production")
        if environment == "test":
            return {**values, "jwt_secret": secrets.token_urlsafe(48)}
        url = str(values.get("database_url") or cls.model_fields["database_url"].default)
        return {**values, "jwt_secret": development_secret(url, values.get("jwt_secret_file"))}

    @field_validator("write_rate_limit", "search_rate_limit", "export_rate_limit")
    @classmethod
    def _limit_syntax(cls, value: str) -> str:
        """A typo fails at start, not as a 500 on the first limited request."""
        if value.strip() not in ("", "off"):
            parse(value)
        return value

    @field_validator("login_rate_limit", "login_address_rate_limit")
    @classmethod
    def _login_limit_syntax(cls, value: str) -> str:
        """Login throttling cannot be switched off; a typo fails at start."""
        parse(value)
        return value

    @model_validator(mode="after")
    def _refuse_cheap_hashes_in_production(self) -> Self:
        if self.environment == "production" and (
            self.password_hash_memory_kib < 65536 or self.password_hash_time_cost < 3
        ):
            raise ValueError(
                "PASSWORD_HASH_MEMORY_KIB / PASSWORD_HASH_TIME_COST below argon2's defaults"
                " (65536, 3) are for tests, never production"
            )
        return self

    @model_validator(mode="after")
    def _refuse_dev_secret_in_production(self) -> Self:
        if self.environment == "production" and self.jwt_secret == DEV_JWT_SECRET:
            raise ValueError(
                "JWT_SECRET must be set in production (the development secret is public)"
            )
        return self


USERS_SETTINGS = section_slot(UsersSettings)
"""The application's settings, read as the users section."""
