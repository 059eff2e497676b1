"""The application's settings, composed in `service/settings.py` from kit's generic part and
each package's section: every variable keeps its flat name, each section holds its own."""

import pytest
from fastapi import FastAPI

from service.database.settings import DatabaseSettings
from service.health.settings import HealthSettings
from service.idempotency.settings import IDEMPOTENCY_SETTINGS, IdempotencySettings
from service.jobs.settings import JobsSettings
from service.kit.settings import SETTINGS, KitSettings
from service.observability.settings import ObservabilitySettings
from service.ratelimit.settings import RateLimitSettings
from service.realtime.settings import RealtimeSettings
from service.replication.settings import ReplicationSettings
from service.settings import Settings
from service.users.settings import USERS_SETTINGS, UsersSettings
from service.webhooks.settings import WebhooksSettings

FIELDS_BEFORE_THE_SPLIT = [
    "environment",
    "log_level",
    "database_url",
    "database_replica_urls",
    "db_pool_size",
    "db_max_overflow",
    "db_pool_timeout",
    "db_pool_ping_idle_seconds",
    "db_session_limit",
    "db_pool_recycle",
    "db_statement_timeout_ms",
    "db_plan_cache_mode",
    "db_command_timeout",
    "db_connect_timeout",
    "db_sqlite_busy_timeout_ms",
    "db_echo",
    "db_pgbouncer",
    "db_replica_max_lag",
    "db_replica_cooldown",
    "db_replica_check_interval",
    "jwt_secret",
    "jwt_secret_file",
    "jwt_algorithm",
    "jwt_issuer",
    "jwt_audience",
    "jwt_expire_seconds",
    "log_format",
    "tracing_enabled",
    "tracing_exporter",
    "tracing_operation_spans",
    "db_slow_query_ms",
    "realtime_listen_url",
    "realtime_queue_size",
    "realtime_reconnect_max_seconds",
    "shutdown_delay_seconds",
    "http_max_header_bytes",
    "http_header_timeout_seconds",
    "http_send_timeout_seconds",
    "max_body_bytes",
    "cors_origins",
    "login_rate_limit",
    "write_rate_limit",
    "search_rate_limit",
    "export_rate_limit",
    "rate_limit_storage_uri",
    "password_hash_concurrency",
    "password_hash_queue",
    "idempotency_ttl_seconds",
    "retry_after_seconds",
    "read_cache_seconds",
    "idempotency_lease_seconds",
    "realtime_max_clients",
    "realtime_poll_seconds",
    "gc_freeze",
    "jobs_embedded",
    "jobs_poll_seconds",
    "jobs_batch_size",
    "jobs_max_attempts",
    "jobs_backoff_seconds",
    "jobs_backoff_max_seconds",
    "jobs_lease_seconds",
    "jobs_retention_seconds",
    "jobs_maintenance_seconds",
]
"""Every field of the one `Settings` class that `service/kit/settings.py` held before."""

WEBHOOK_FIELDS = {
    *("webhook_secret_key", "webhook_secret_key_file", "webhook_allowed_hosts"),
    *("webhook_timeout_seconds", "webhook_retry_hours", "webhook_disable_after_days"),
    *("webhook_backoff_seconds", "webhook_backoff_max_seconds", "webhook_poll_seconds"),
    *("webhook_batch_size", "webhook_lease_seconds", "webhook_concurrency"),
}
SECTIONS: dict[type[KitSettings], set[str]] = {
    UsersSettings: {
        *("jwt_secret", "jwt_secret_file", "jwt_algorithm", "jwt_issuer", "jwt_audience"),
        *("jwt_expire_seconds", "password_hash_concurrency", "password_hash_queue"),
        *("login_rate_limit", "write_rate_limit", "search_rate_limit", "export_rate_limit"),
        "login_address_rate_limit",
        *("password_hash_memory_kib", "password_hash_time_cost"),
    },
    IdempotencySettings: {"idempotency_ttl_seconds", "idempotency_lease_seconds"},
    JobsSettings: {name for name in FIELDS_BEFORE_THE_SPLIT if name.startswith("jobs_")},
    RealtimeSettings: {name for name in FIELDS_BEFORE_THE_SPLIT if name.startswith("realtime_")},
    ReplicationSettings: {
        *("database_replica_urls", "db_replica_max_lag", "db_replica_cooldown"),
        "db_replica_check_interval",
    },
    DatabaseSettings: {
        name
        for name in FIELDS_BEFORE_THE_SPLIT
        if name == "database_url" or (name.startswith("db_") and "replica" not in name)
    }
    - {"db_echo", "db_slow_query_ms"},
    ObservabilitySettings: {"log_format", "db_echo", "db_slow_query_ms"}
    | {name for name in FIELDS_BEFORE_THE_SPLIT if name.startswith("tracing_")},
    RateLimitSettings: {"rate_limit_storage_uri"},
    HealthSettings: {"shutdown_delay_seconds", "gc_freeze"},
    WebhooksSettings: WEBHOOK_FIELDS,
}


ADDED_SINCE = {
    *("login_address_rate_limit", "proxy_headers", "forwarded_allow_ips"),
    *("password_hash_memory_kib", "password_hash_time_cost"),
    *WEBHOOK_FIELDS,
}
"""Settings added after the split (the login throttle and the test suite issues)."""


def test_the_composed_settings_keep_every_variable() -> None:
    assert len(FIELDS_BEFORE_THE_SPLIT) == 63
    assert sorted(Settings.model_fields) == sorted({*FIELDS_BEFORE_THE_SPLIT, *ADDED_SINCE})


@pytest.mark.parametrize("section", SECTIONS, ids=lambda section: section.__name__)
def test_each_section_declares_its_own_fields(section: type[KitSettings]) -> None:
    own = set(section.__annotations__)
    assert own == SECTIONS[section]
    bases = [base for base in section.__bases__ if issubclass(base, KitSettings)]
    inherited = set().union(*(base.model_fields for base in bases))
    assert set(section.model_fields) == own | inherited
    assert issubclass(Settings, section)


def test_kit_and_the_sections_share_out_every_field_once() -> None:
    shares = [set(KitSettings.model_fields), *SECTIONS.values()]
    every = {*FIELDS_BEFORE_THE_SPLIT, *ADDED_SINCE}
    assert sum(map(len, shares)) == len(every)
    assert set().union(*shares) == every


def test_flat_variable_names_reach_their_section(monkeypatch: pytest.MonkeyPatch) -> None:
    for name, value in {
        "IDEMPOTENCY_TTL_SECONDS": "120",
        "JOBS_BATCH_SIZE": "7",
        "REALTIME_LISTEN_URL": "postgres://listen/db",
        "DATABASE_REPLICA_URLS": "postgres://r1/db",
        "WRITE_RATE_LIMIT": "off",
        "MAX_BODY_BYTES": "2048",
    }.items():
        monkeypatch.setenv(name, value)
    settings = Settings(environment="test", _env_file=None)
    assert settings.idempotency_ttl_seconds == 120
    assert settings.jobs_batch_size == 7
    assert settings.realtime_listen_url == "postgresql+asyncpg://listen/db"
    assert settings.database_replica_urls == ["postgresql+asyncpg://r1/db"]
    assert settings.write_rate_limit == "off"
    assert settings.max_body_bytes == 2048


def test_each_section_validates_its_fields_in_the_composition() -> None:
    with pytest.raises(ValueError, match="write_rate_limit"):
        Settings(environment="test", write_rate_limit="ten a minute", _env_file=None)
    with pytest.raises(ValueError, match="jobs_batch_size"):
        Settings(environment="test", jobs_batch_size=0, _env_file=None)
    with pytest.raises(ValueError, match="idempotency_ttl_seconds"):
        Settings(environment="test", idempotency_ttl_seconds=1, _env_file=None)


def test_a_package_reads_the_application_settings_as_its_section() -> None:
    app = FastAPI()
    settings = SETTINGS.put(app, Settings(environment="test", _env_file=None))
    sections = (USERS_SETTINGS.of(app), IDEMPOTENCY_SETTINGS.of(app))
    assert all(section is settings for section in sections)
