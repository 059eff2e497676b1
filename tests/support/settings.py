"""Settings for the apps the suite builds."""

from typing import Any

from service.settings import Settings

TEST_JWT_SECRET = "test-secret-0123456789-0123456789-0123456789"
TEST_WEBHOOK_KEY = "test-webhook-key-0123456789-0123456789-0123"
"""One key for the suite's apps and the servers and workers it starts (they share databases)."""
TEST_HASH_COST = {"password_hash_memory_kib": 1024, "password_hash_time_cost": 1}
"""argon2 at ~1 ms a hash instead of ~0.2 s of CPU (every registration hashes, every login
verifies); the tests of the hashing queue and of production settings use the real cost."""
TEST_HASH_COST_ENV = {name.upper(): str(value) for name, value in TEST_HASH_COST.items()}
"""The same, for the environment of a server process."""


def make_settings(database_url: str, **overrides: Any) -> Settings:
    # The suite shares one app (one client address, wrong passwords on purpose); tests of the
    # login throttle build their own with low limits.
    overrides.setdefault("login_rate_limit", "10000/minute")
    overrides.setdefault("login_address_rate_limit", "10000/minute")
    # Writes and searches too: the suite's app serves every test from one client address.
    overrides.setdefault("write_rate_limit", "off")
    overrides.setdefault("search_rate_limit", "off")
    overrides.setdefault("export_rate_limit", "10000/minute")
    for name, value in TEST_HASH_COST.items():
        overrides.setdefault(name, value)
    overrides.setdefault("webhook_secret_key", TEST_WEBHOOK_KEY)
    return Settings(
        database_url=database_url,
        environment="test",
        jwt_secret=TEST_JWT_SECRET,
        _env_file=None,
        **overrides,
    )
