"""The replication section of the settings: the read replicas and how they are checked."""

from typing import Annotated

from pydantic import Field, field_validator
from pydantic_settings import NoDecode

from service.database.settings import DatabaseSettings
from service.kit.settings import comma_separated, with_async_driver


class ReplicationSettings(DatabaseSettings):
    database_replica_urls: Annotated[list[str], NoDecode] = Field(default_factory=list)
    db_replica_max_lag: float = Field(
        default=10.0, gt=0, description="seconds a replica may lag before it is skipped"
    )
    db_replica_cooldown: float = Field(
        default=10.0, gt=0, description="seconds a failed or lagging replica is skipped"
    )
    db_replica_check_interval: float = Field(
        default=1.0, gt=0, description="seconds between replica health/lag checks"
    )

    @field_validator("database_replica_urls", mode="before")
    @classmethod
    def _split_replica_urls(cls, value: object) -> object:
        return comma_separated(value)

    @field_validator("database_replica_urls")
    @classmethod
    def _replica_async_drivers(cls, value: list[str]) -> list[str]:
        return [with_async_driver(url) for url in value]
