"""The application's settings: kit's generic part and every package's section, composed once.

Only the entry points import it (`main.py`, `serve.py`, `worker.py`, `work.py`, the CLI,
migrations); packages read their own section or are handed it."""

from functools import lru_cache

from service.health.settings import HealthSettings
from service.idempotency.settings import IdempotencySettings
from service.jobs.settings import JobsSettings
from service.ratelimit.settings import RateLimitSettings
from service.realtime.settings import RealtimeSettings
from service.replication.settings import ReplicationSettings
from service.users.settings import UsersSettings
from service.webhooks.settings import WebhooksSettings


class Settings(
    UsersSettings,
    IdempotencySettings,
    JobsSettings,
    RealtimeSettings,
    ReplicationSettings,
    RateLimitSettings,
    HealthSettings,
    WebhooksSettings,
):
    """Every setting of the service (README, Configuration)."""


@lru_cache
def get_settings() -> Settings:
    return Settings()
