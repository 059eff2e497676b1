import stat
from pathlib import Path

import pytest
from pydantic import ValidationError

from service.settings import Settings
from service.users.settings import DEV_JWT_SECRET
from tests.support.settings import TEST_WEBHOOK_KEY


def test_production_refuses_the_development_jwt_secret() -> None:
    with pytest.raises(ValidationError, match="JWT_SECRET"):
        Settings(
            environment="production",
            webhook_secret_key=TEST_WEBHOOK_KEY,
            jwt_secret=DEV_JWT_SECRET,
            _env_file=None,
        )
    Settings(
        environment="production",
        webhook_secret_key=TEST_WEBHOOK_KEY,
        jwt_secret="x" * 40,
        _env_file=None,
    )


def test_settings_come_from_the_environment(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("DATABASE_URL", "postgresql+asyncpg://u@h/db")
    monkeypatch.setenv(
        "DATABASE_REPLICA_URLS", "postgresql+asyncpg://r1/db, postgresql+asyncpg://r2/db"
    )
    monkeypatch.setenv("DB_POOL_TIMEOUT", "1.5")
    settings = Settings(_env_file=None)
    assert settings.database_url == "postgresql+asyncpg://u@h/db"
    assert settings.database_replica_urls == [
        "postgresql+asyncpg://r1/db",
        "postgresql+asyncpg://r2/db",
    ]
    assert settings.db_pool_timeout == 1.5


def test_default_database_is_embedded_sqlite(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.delenv("DATABASE_URL", raising=False)
    assert Settings(_env_file=None).database_url == "sqlite+aiosqlite:///./inkwell.db"


def test_psql_style_urls_get_the_async_driver() -> None:
    for given in ("postgres://u:p@h:5433/db", "postgresql://u:p@h:5433/db"):
        settings = Settings(database_url=given, environment="test", _env_file=None)
        assert settings.database_url == "postgresql+asyncpg://u:p@h:5433/db"
    settings = Settings(
        database_url="sqlite:///./x.db",
        database_replica_urls=["postgres://r1/db", "postgresql+asyncpg://r2/db"],
        environment="test",
        _env_file=None,
    )
    assert settings.database_url == "sqlite+aiosqlite:///./x.db"
    assert settings.database_replica_urls == [
        "postgresql+asyncpg://r1/db",
        "postgresql+asyncpg://r2/db",
    ]


def test_production_without_a_secret_refuses_to_start() -> None:
    with pytest.raises(ValidationError, match="JWT_SECRET must be set in production"):
        Settings(environment="production", webhook_secret_key=TEST_WEBHOOK_KEY, _env_file=None)


def test_development_generates_a_private_secret_once_and_keeps_it(tmp_path: Path) -> None:
    url = f"sqlite+aiosqlite:///{tmp_path / 'data' / 'inkwell.db'}"
    first = Settings(database_url=url, environment="development", _env_file=None)
    again = Settings(database_url=url, environment="development", _env_file=None)
    kept = tmp_path / "data" / ".inkwell-jwt-secret"
    assert first.jwt_secret == again.jwt_secret == kept.read_text()
    assert first.jwt_secret != DEV_JWT_SECRET
    assert len(first.jwt_secret) >= 48
    assert stat.S_IMODE(kept.stat().st_mode) == 0o600
    other = Settings(
        database_url=f"sqlite+aiosqlite:///{tmp_path / 'other.db'}",
        environment="development",
        _env_file=None,
    )
    assert other.jwt_secret != first.jwt_secret


@pytest.mark.parametrize("value", ["off", "", "10 per fortnight"])
def test_login_limits_cannot_be_switched_off_nor_mistyped(value: str) -> None:
    with pytest.raises(ValidationError, match="login_rate_limit"):
        Settings(environment="test", _env_file=None, login_rate_limit=value)
    with pytest.raises(ValidationError, match="login_address_rate_limit"):
        Settings(environment="test", _env_file=None, login_address_rate_limit=value)


def test_proxy_trust_comes_from_the_environment(monkeypatch: pytest.MonkeyPatch) -> None:
    defaults = Settings(environment="test", _env_file=None)
    assert (defaults.proxy_headers, defaults.forwarded_allow_ips) == (False, "127.0.0.1,::1")
    monkeypatch.setenv("PROXY_HEADERS", "true")
    monkeypatch.setenv("FORWARDED_ALLOW_IPS", "10.0.0.0/8")
    settings = Settings(environment="test", _env_file=None)
    assert (settings.proxy_headers, settings.forwarded_allow_ips) == (True, "10.0.0.0/8")


def test_cheap_password_hashes_are_refused_in_production() -> None:
    with pytest.raises(ValidationError, match="never production"):
        Settings(
            environment="production",
            webhook_secret_key=TEST_WEBHOOK_KEY,
            jwt_secret="x" * 40,
            password_hash_memory_kib=1024,
            _env_file=None,
        )
