"""WEBHOOK_SECRET_KEY is handled like JWT_SECRET: required in production, the public
development value refused there; development keeps a generated key in a 0600 file."""

from pathlib import Path

import pytest
from pydantic import ValidationError

from service.webhooks.settings import DEV_WEBHOOK_KEY, WebhooksSettings


def test_production_refuses_a_missing_or_public_key() -> None:
    with pytest.raises(ValidationError, match="WEBHOOK_SECRET_KEY must be set in production"):
        WebhooksSettings(environment="production", _env_file=None)
    with pytest.raises(ValidationError, match="this one is public"):
        WebhooksSettings(
            environment="production", webhook_secret_key=DEV_WEBHOOK_KEY, _env_file=None
        )
    with pytest.raises(ValidationError):
        WebhooksSettings(environment="production", webhook_secret_key="short", _env_file=None)
    ok = WebhooksSettings(environment="production", webhook_secret_key="k" * 40, _env_file=None)
    assert ok.webhook_secret_key == "k" * 40


def test_development_keeps_a_generated_key_beside_the_data(tmp_path: Path) -> None:
    url = f"sqlite+aiosqlite:///{tmp_path / 'inkwell.db'}"
    first = WebhooksSettings(environment="development", database_url=url, _env_file=None)
    again = WebhooksSettings(environment="development", database_url=url, _env_file=None)
    assert first.webhook_secret_key == again.webhook_secret_key
    key_file = tmp_path / ".inkwell-webhook-key"
    assert key_file.stat().st_mode & 0o777 == 0o600
    assert first.webhook_secret_key != DEV_WEBHOOK_KEY


def test_the_lease_must_outlast_an_attempt() -> None:
    with pytest.raises(ValidationError, match="WEBHOOK_LEASE_SECONDS"):
        WebhooksSettings(
            environment="test", webhook_timeout_seconds=10, webhook_lease_seconds=5, _env_file=None
        )
