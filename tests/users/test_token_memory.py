"""A verified token is remembered (no second signature check), but never past its expiry and
never for another secret."""

import time

import pytest

from service.users import security
from service.users.security import create_access_token, decode_access_token
from tests.support.settings import make_settings


def test_a_remembered_token_still_expires(monkeypatch: pytest.MonkeyPatch) -> None:
    settings = make_settings("sqlite+aiosqlite://")
    token = create_access_token(settings, user_id=7, token_version=3)
    claims = decode_access_token(settings, token)
    assert claims is not None
    assert (claims.user_id, claims.token_version) == (7, 3)
    assert any(remembered == token for _, remembered in security._VERIFIED)
    assert decode_access_token(settings, token) == claims
    later = time.time() + settings.jwt_expire_seconds + 1
    monkeypatch.setattr(time, "time", lambda: later)  # the module reads time.time()
    assert decode_access_token(settings, token) is None


def test_a_remembered_token_is_not_valid_under_another_secret() -> None:
    settings = make_settings("sqlite+aiosqlite://")
    token = create_access_token(settings, user_id=8, token_version=0)
    assert decode_access_token(settings, token) is not None
    rotated = settings.model_copy(update={"jwt_secret": "another-secret-" + "x" * 40})
    assert decode_access_token(rotated, token) is None


def test_a_refused_token_is_checked_again_each_time() -> None:
    settings = make_settings("sqlite+aiosqlite://")
    forged = create_access_token(settings, user_id=9, token_version=0)[:-2] + "xx"
    for _ in range(2):
        assert decode_access_token(settings, forged) is None
    assert not any(token == forged for _, token in security._VERIFIED)
