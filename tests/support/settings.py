"""Settings for the apps the suite builds."""

from typing import Any

from service.settings import Settings

TEST_JWT_SECRET = "test-secret-0123456789-0123456789-0123456789"


def make_settings(database_url: str, **overrides: Any) -> Settings:
    # The suite shares one app (one client address, wrong passwords on purpose); tests of the
    # login throttle build their own with low limits.
    overrides.setdefault("login_rate_limit", "10000/minute")
    overrides.setdefault("login_address_rate_limit", "10000/minute")
    # Writes and searches too: the suite's app serves every test from one client address.
    overrides.setdefault("write_rate_limit", "off")
    overrides.setdefault("search_rate_limit", "off")
    overrides.setdefault("export_rate_limit", "10000/minute")
    return Settings(
        database_url=database_url,
        environment="test",
        jwt_secret=TEST_JWT_SECRET,
        _env_file=None,
        **overrides,
    )
