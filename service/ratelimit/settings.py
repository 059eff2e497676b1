"""The rate-limit section of the settings: where the counters live."""

from pydantic import Field

from service.kit.settings import KitSettings


class RateLimitSettings(KitSettings):
    rate_limit_storage_uri: str = Field(
        default="memory://",
        description="limits storage URI; redis://host:6379/0 shares counters between instances",
    )
