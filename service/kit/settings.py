"""The generic part of the runtime configuration, read from the environment (and `.env`).

Every package declares its section as a subclass (`service/<package>/settings.py`), composed into
`service/settings.py`'s `Settings` so variable names stay flat; kit reads the composed object as
`KitSettings` (docs/architecture.md)."""

from typing import Annotated, Literal, TypeVar

from pydantic import Field, field_validator
from pydantic_settings import BaseSettings, NoDecode, SettingsConfigDict

from service.kit.state import StateSlot

_DRIVERS = {"postgres": "postgresql+asyncpg", "postgresql": "postgresql+asyncpg"}
_DRIVERS |= {"sqlite": "sqlite+aiosqlite"}


def with_async_driver(url: str) -> str:
    """`postgres://` and `postgresql://` (psql's spellings) as asyncpg URLs; `sqlite://` as
    aiosqlite. Anything else is returned unchanged (an unknown driver fails at connect)."""
    scheme, sep, rest = url.partition("://")
    return f"{_DRIVERS[scheme]}{sep}{rest}" if sep and scheme in _DRIVERS else url


def comma_separated(value: object) -> object:
    """A list variable given as one comma-separated string (`A, B`), as a list."""
    if isinstance(value, str):
        return [item.strip() for item in value.split(",") if item.strip()]
    return value


class KitSettings(BaseSettings):
    model_config = SettingsConfigDict(env_file=".env", extra="ignore", frozen=True)

    environment: Literal["development", "test", "production"] = "development"
    log_level: Literal["DEBUG", "INFO", "WARNING", "ERROR"] = "INFO"

    http_max_header_bytes: int = Field(
        default=16 * 1024, ge=1024, description="request line + headers; larger: 431 (serve.py)"
    )
    http_header_timeout_seconds: float = Field(
        default=10.0, gt=0, description="a request head slower than this: 408, closed"
    )
    http_send_timeout_seconds: float = Field(
        default=20.0, gt=0, description="a client that reads nothing for this long is dropped"
    )
    proxy_headers: bool = Field(
        default=False,
        description="client address and scheme from X-Forwarded-For/-Proto of FORWARDED_ALLOW_IPS",
    )
    forwarded_allow_ips: str = Field(
        default="127.0.0.1,::1",
        description="peers (IPs, CIDR networks) whose X-Forwarded-* is trusted if PROXY_HEADERS",
    )
    max_body_bytes: int = Field(default=1024 * 1024, ge=1, description="larger bodies get 413")
    cors_origins: Annotated[list[str], NoDecode] = Field(
        default_factory=list, description="comma-separated allowed origins; empty = CORS closed"
    )
    retry_after_seconds: int = Field(default=2, ge=1, description="Retry-After on 503")
    read_cache_seconds: int = Field(
        default=5,
        ge=0,
        le=24 * 3600,
        description="max-age of anonymous reads (Cache-Control: public); 0: revalidate each time",
    )

    @field_validator("cors_origins", mode="before")
    @classmethod
    def _split_origins(cls, value: object) -> object:
        return comma_separated(value)


SETTINGS: StateSlot[KitSettings] = StateSlot("settings")
"""The application's settings (set by `create_app`), as far as kit reads them."""

Section = TypeVar("Section", bound=KitSettings)


def section_slot(section: type[Section]) -> StateSlot[Section]:
    """`SETTINGS` read as one package's section: the application's `Settings` (what
    `create_app` puts there) subclasses every section, so the read is sound."""
    del section  # only its type matters
    return StateSlot(SETTINGS.name)
