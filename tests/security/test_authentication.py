"""API2: every malformed, expired, forged or revoked token is a 401, never a 500 or a 200."""

import base64
import json
import time
import warnings
from collections.abc import Callable
from typing import Any

import jwt
import pytest
from httpx import AsyncClient
from pydantic import ValidationError

from service.settings import Settings
from service.users.settings import DEV_JWT_SECRET
from tests.support.accounts import AccountFactory
from tests.support.problems import assert_problem
from tests.support.settings import TEST_JWT_SECRET, TEST_WEBHOOK_KEY

ME = "/api/v1/users/me"
DROP = object()


def _claims(settings: Settings, user_id: int, **changes: Any) -> dict[str, Any]:
    now = int(time.time())
    claims: dict[str, Any] = {
        "sub": str(user_id),
        "ver": 0,
        "iat": now,
        "exp": now + 600,
        "iss": settings.jwt_issuer,
        "aud": settings.jwt_audience,
    }
    for name, value in changes.items():
        if value is DROP:
            claims.pop(name)
        else:
            claims[name] = value
    return claims


def _b64(data: dict[str, Any]) -> str:
    raw = json.dumps(data, separators=(",", ":")).encode()
    return base64.urlsafe_b64encode(raw).decode().rstrip("=")


def _unsigned(claims: dict[str, Any]) -> str:
    return f"{_b64({'alg': 'none', 'typ': 'JWT'})}.{_b64(claims)}."


def _hs512(claims: dict[str, Any]) -> str:
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", jwt.warnings.InsecureKeyLengthWarning)
        return jwt.encode(claims, TEST_JWT_SECRET, algorithm="HS512")


BAD_CLAIMS: dict[str, dict[str, Any]] = {
    "expired": {"exp": int(time.time()) - 10, "iat": int(time.time()) - 700},
    "wrong-audience": {"aud": "someone-else"},
    "wrong-issuer": {"iss": "evil"},
    "missing-sub": {"sub": DROP},
    "missing-exp": {"exp": DROP},
    "missing-iat": {"iat": DROP},
    "missing-iss": {"iss": DROP},
    "missing-aud": {"aud": DROP},
    "non-numeric-sub": {"sub": "admin"},
    "old-token-version": {"ver": -1},
    "unknown-user": {"sub": "987654321"},
}


@pytest.mark.parametrize("case", sorted(BAD_CLAIMS))
async def test_bad_claims_are_401(
    client: AsyncClient, make_account: AccountFactory, settings: Settings, case: str
) -> None:
    account = await make_account()
    token = jwt.encode(_claims(settings, account.id, **BAD_CLAIMS[case]), TEST_JWT_SECRET)
    response = await client.get(ME, headers={"Authorization": f"Bearer {token}"})
    assert_problem(response, 401)
    assert response.headers["www-authenticate"] == "Bearer"


async def test_a_well_formed_token_is_accepted(
    client: AsyncClient, make_account: AccountFactory, settings: Settings
) -> None:
    """Positive control for the cases above: the same builder without a change works."""
    account = await make_account()
    token = jwt.encode(_claims(settings, account.id), TEST_JWT_SECRET)
    response = await client.get(ME, headers={"Authorization": f"Bearer {token}"})
    assert response.status_code == 200, response.text


@pytest.mark.parametrize(
    "forge",
    [
        "other-secret",
        "dev-secret",
        "alg-none",
        "alg-none-with-signature",
        "other-hmac-algorithm",
        "garbage",
        "empty",
    ],
)
async def test_forged_tokens_are_401(
    client: AsyncClient, make_account: AccountFactory, settings: Settings, forge: str
) -> None:
    account = await make_account()
    claims = _claims(settings, account.id)
    builders: dict[str, Callable[[], str]] = {
        "other-secret": lambda: jwt.encode(claims, "x" * 48),
        "dev-secret": lambda: jwt.encode(claims, DEV_JWT_SECRET),
        "alg-none": lambda: _unsigned(claims),
        "alg-none-with-signature": lambda: _unsigned(claims) + "c2ln",
        # Pinned algorithm: the right secret with another algorithm is still refused.
        "other-hmac-algorithm": lambda: _hs512(claims),
        "garbage": lambda: "a.b.c",
        "empty": lambda: "",
    }
    token = builders[forge]()
    response = await client.get(ME, headers={"Authorization": f"Bearer {token}"})
    assert_problem(response, 401)


async def test_tokens_of_a_deleted_user_stop_working(
    client: AsyncClient, make_account: AccountFactory
) -> None:
    account = await make_account()
    assert (await client.delete(ME, headers=account.headers)).status_code == 204
    assert_problem(await client.get(ME, headers=account.headers), 401)
    # Even on a public read, a revoked token is refused rather than silently ignored.
    assert_problem(await client.get("/api/v1/posts", headers=account.headers), 401)


async def test_password_change_revokes_older_tokens(
    client: AsyncClient, make_account: AccountFactory
) -> None:
    account = await make_account()
    draft = await client.post(
        "/api/v1/posts", json={"title": "Mine", "body": "b"}, headers=account.headers
    )
    own = f"/api/v1/posts/{draft.json()['id']}"
    assert (await client.get(own, headers=account.headers)).status_code == 200  # the viewer's
    changed = await client.patch(ME, json={"password": "a new password"}, headers=account.headers)
    assert changed.status_code == 200
    assert_problem(await client.get(ME, headers=account.headers), 401)
    # The viewer of a public read is checked on every request too: at once, not eventually.
    assert_problem(await client.get(own, headers=account.headers), 401)


def test_production_refuses_the_development_secret() -> None:
    with pytest.raises(ValidationError, match="JWT_SECRET must be set in production"):
        Settings(environment="production", webhook_secret_key=TEST_WEBHOOK_KEY, _env_file=None)
    with pytest.raises(ValidationError):
        Settings(
            environment="production",
            webhook_secret_key=TEST_WEBHOOK_KEY,
            jwt_secret="short",
            _env_file=None,
        )
    ok = Settings(
        environment="production",
        webhook_secret_key=TEST_WEBHOOK_KEY,
        jwt_secret="p" * 40,
        _env_file=None,
    )
    assert ok.jwt_secret == "p" * 40
