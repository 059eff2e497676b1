"""The idempotency section of the settings: how long a key is remembered and leased."""

from pydantic import Field

from service.kit.settings import KitSettings, section_slot


class IdempotencySettings(KitSettings):
    idempotency_ttl_seconds: int = Field(
        default=24 * 3600, ge=60, description="how long an Idempotency-Key is remembered"
    )
    idempotency_lease_seconds: float = Field(
        default=30.0, gt=0, description="a key without a recorded answer is re-run after this"
    )


IDEMPOTENCY_SETTINGS = section_slot(IdempotencySettings)
"""The application's settings, read as the idempotency section."""
