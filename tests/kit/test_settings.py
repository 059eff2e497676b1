import pytest
from pydantic import ValidationError

from service.kit.settings import DEV_JWT_SECRET, Settings


def test_production_refuses_the_development_jwt_secret() -> None:
    with pytest.raises(ValidationError, match="JWT_SECRET"):
        Settings(environment="production", jwt_secret=DEV_JWT_SECRET, _env_file=None)
    Settings(environment="production", jwt_secret="x" * 40, _env_file=None)


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
