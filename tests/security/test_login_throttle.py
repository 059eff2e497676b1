"""The login throttle at its DEFAULT limits, against the real server (`python -m service.serve`)
on each backend: an office behind one address signs in; guessing one account's password, or
spraying many usernames from one address, meets a 429; behind a trusted proxy each client is
judged by its own address, and a forwarded address from anyone else is ignored.

The accounts are written straight into each server's database with a cheap argon2 hash (argon2
verifies with the cost a hash was made with), so the server's real verification runs for every
attempt it lets through without the production cost; every login goes through the API."""

import asyncio
import sys
from collections import Counter
from collections.abc import AsyncIterator, Awaitable
from pathlib import Path

import httpx
import pytest
from pwdlib import PasswordHash
from pwdlib.hashers.argon2 import Argon2Hasher
from sqlmodel.ext.asyncio.session import AsyncSession

from service.database.engines import create_engine
from service.users.models import User
from tests.support.servers import Service, served
from tests.support.settings import make_settings

TOKEN = "/api/v1/auth/token"
PASSWORD = "office-password-123"
WRONG = "Summer2024!"
ACCOUNTS = 300
"""`user_0` ... `user_299` on each server; every test takes names of its own."""
PER_USERNAME = 10
"""LOGIN_RATE_LIMIT's default: failed logins per username and minute."""
PER_ADDRESS = 100
"""LOGIN_ADDRESS_RATE_LIMIT's default: failed logins per client address and minute."""
DEFAULTS = {"WRITE_RATE_LIMIT": "300/minute", "SEARCH_RATE_LIMIT": "120/minute"}
"""A deployment without settings (the test servers turn these two off); no login setting."""
BEHIND_A_PROXY = DEFAULTS | {"PROXY_HEADERS": "true", "FORWARDED_ALLOW_IPS": "127.0.0.1"}


async def _seed_accounts(url: str) -> None:
    cheap = PasswordHash((Argon2Hasher(time_cost=1, memory_cost=1024, parallelism=1),))
    password_hash = cheap.hash(PASSWORD)
    engine = create_engine(url, make_settings(url), role="seed")
    try:
        async with AsyncSession(engine) as session:
            session.add_all(
                User(
                    username=f"user_{n}", email=f"user_{n}@example.com", password_hash=password_hash
                )
                for n in range(ACCOUNTS)
            )
            await session.commit()
    finally:
        await engine.dispose()


async def _server(backend: str, folder: Path, env: dict[str, str]) -> AsyncIterator[Service]:
    async with served(backend, folder, env) as (service, url):
        await _seed_accounts(url)
        yield service


@pytest.fixture(scope="module")
async def server(backend: str, tmp_path_factory: pytest.TempPathFactory) -> AsyncIterator[Service]:
    """Every test speaks from loopback addresses of its own (127.0.n.x): one server serves all."""
    async for service in _server(backend, tmp_path_factory.mktemp("direct"), DEFAULTS):
        yield service


@pytest.fixture(scope="module")
async def proxied(backend: str, tmp_path_factory: pytest.TempPathFactory) -> AsyncIterator[Service]:
    """The server behind a proxy on 127.0.0.1: only that peer's X-Forwarded-For is trusted."""
    async for service in _server(backend, tmp_path_factory.mktemp("proxied"), BEHIND_A_PROXY):
        yield service


def _client(service: Service, address: str) -> httpx.AsyncClient:
    """A client whose connections come from `address` (any 127.x.y.z is this machine)."""
    transport = httpx.AsyncHTTPTransport(local_address=address)
    return httpx.AsyncClient(base_url=service.url, transport=transport, timeout=60)


async def _login(
    client: httpx.AsyncClient, name: str, password: str, forwarded_for: str | None = None
) -> httpx.Response:
    headers = {"X-Forwarded-For": forwarded_for} if forwarded_for else {}
    return await client.post(TOKEN, data={"username": name, "password": password}, headers=headers)


async def _in_pairs(attempts: list[Awaitable[httpx.Response]]) -> list[int]:
    """Statuses of the attempts, sent two at a time (the server hashes two at a time)."""
    turns = asyncio.Semaphore(2)

    async def one(attempt: Awaitable[httpx.Response]) -> int:
        async with turns:
            return (await attempt).status_code

    return list(await asyncio.gather(*(one(attempt) for attempt in attempts)))


def _report(backend: str, what: str, statuses: list[int]) -> None:
    first = statuses.index(429) + 1 if 429 in statuses else None
    sys.stdout.write(
        f"\n[login {backend}] {what}: {dict(Counter(statuses))}, first 429 at attempt {first}\n"
    )


async def test_forty_people_behind_one_address_all_sign_in(backend: str, server: Service) -> None:
    async with _client(server, "127.0.1.1") as office:
        statuses = [(await _login(office, f"user_{n}", PASSWORD)).status_code for n in range(40)]
    _report(backend, "40 users, one address, right passwords one after another", statuses)
    assert statuses == [200] * 40


async def test_wrong_passwords_for_one_user_meet_a_429_at_the_limit(
    backend: str, server: Service
) -> None:
    async with _client(server, "127.0.2.1") as attacker:
        statuses = [
            (await _login(attacker, "user_40", f"guess-{n}")).status_code for n in range(12)
        ]
        refused = await _login(attacker, "user_40", "guess-12")
    _report(backend, "12 wrong passwords, one user", statuses)
    assert statuses == [401] * PER_USERNAME + [429] * (12 - PER_USERNAME)
    assert 1 <= int(refused.headers["retry-after"]) <= 60
    assert refused.headers["ratelimit-limit"] == str(PER_USERNAME)
    assert refused.headers["ratelimit-remaining"] == "0"
    assert "LOGIN_RATE_LIMIT=10/minute" in refused.json()["detail"]
    # The account is under attack: even its owner, from elsewhere, waits...
    async with _client(server, "127.0.2.2") as owner:
        assert (await _login(owner, "user_40", PASSWORD)).status_code == 429
    # ...but nobody else does, not even from the attacker's address.
    async with _client(server, "127.0.2.1") as attacker:
        assert (await _login(attacker, "user_41", PASSWORD)).status_code == 200


async def test_a_burst_for_one_user_gets_no_more_than_the_limit(
    backend: str, server: Service
) -> None:
    """Concurrent guesses from 20 addresses: attempts still being checked hold their place."""

    async def guess(n: int) -> int:
        async with _client(server, f"127.0.3.{n + 1}") as attacker:
            return (await _login(attacker, "user_42", f"guess-{n}")).status_code

    statuses = list(await asyncio.gather(*(guess(n) for n in range(20))))
    _report(backend, "20 concurrent wrong passwords, one user", statuses)
    assert Counter(statuses) == Counter({401: PER_USERNAME, 429: 20 - PER_USERNAME})


async def test_one_address_spraying_usernames_meets_a_429_and_forged_headers_change_nothing(
    backend: str, server: Service
) -> None:
    """150 wrong passwords over 150 usernames from one address, each with a made-up
    X-Forwarded-For: ignored, since PROXY_HEADERS is off by default."""
    async with _client(server, "127.0.4.1") as attacker:
        statuses = await _in_pairs(
            [_login(attacker, f"user_{100 + n}", WRONG, f"198.51.100.{n}") for n in range(150)]
        )
        blocked = await _login(attacker, "user_43", PASSWORD)
    _report(backend, "150 wrong passwords, 150 usernames, one address", statuses)
    assert Counter(statuses) == Counter({401: PER_ADDRESS, 429: 150 - PER_ADDRESS})
    assert statuses[: PER_ADDRESS - 1] == [401] * (PER_ADDRESS - 1)  # none refused early
    assert "LOGIN_ADDRESS_RATE_LIMIT=100/minute" in blocked.json()["detail"]
    async with _client(server, "127.0.4.2") as elsewhere:
        assert (await _login(elsewhere, "user_43", PASSWORD)).status_code == 200


async def test_behind_a_trusted_proxy_each_client_address_is_judged_on_its_own(
    backend: str, proxied: Service
) -> None:
    """150 wrong passwords from 40 client addresses, all through the proxy (peer 127.0.0.1):
    more than one address's budget in all, and no address near its own."""
    async with _client(proxied, "127.0.0.1") as proxy:
        statuses = await _in_pairs(
            [_login(proxy, f"user_{n}", WRONG, f"203.0.113.{n % 40}") for n in range(150)]
        )
        signed_in = await _login(proxy, "user_150", PASSWORD, "203.0.113.200")
    _report(backend, "150 wrong passwords from 40 forwarded addresses", statuses)
    assert statuses == [401] * 150
    assert signed_in.status_code == 200


async def test_an_untrusted_peers_forwarded_for_is_ignored(backend: str, proxied: Service) -> None:
    """The same server, a peer outside FORWARDED_ALLOW_IPS: its X-Forwarded-For names nobody."""
    attempts = PER_ADDRESS + 5
    async with _client(proxied, "127.0.5.1") as stranger:
        statuses = await _in_pairs(
            [_login(stranger, f"user_{151 + n}", WRONG, f"192.0.2.{n}") for n in range(attempts)]
        )
    _report(
        backend, f"{attempts} wrong passwords, untrusted peer, forged X-Forwarded-For", statuses
    )
    assert Counter(statuses) == Counter({401: PER_ADDRESS, 429: 5})
    assert statuses[: PER_ADDRESS - 1] == [401] * (PER_ADDRESS - 1)
