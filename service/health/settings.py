"""The health section of the settings: shutdown and the start-up heap."""

from pydantic import Field

from service.kit.settings import KitSettings


class HealthSettings(KitSettings):
    shutdown_delay_seconds: float = Field(
        default=0.0,
        ge=0,
        description="after SIGTERM keep serving (readiness 503) this long before draining",
    )

    gc_freeze: bool = Field(
        default=True,
        description="after startup, exempt the startup heap from garbage collection (gc.freeze)",
    )
