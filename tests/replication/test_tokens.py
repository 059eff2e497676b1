"""Consistency tokens and LSNs (no database needed)."""

import pytest
from httpx import AsyncClient

from service.replication.replicas import format_lsn, parse_lsn
from service.replication.tokens import COOKIE, HEADER, TokenCodec, _token_from_headers
from tests.support.accounts import AccountFactory


def test_lsn_round_trip_and_order() -> None:
    assert parse_lsn("0/0") == 0
    assert parse_lsn("16/B374D848") == (0x16 << 32) | 0xB374D848
    assert format_lsn(parse_lsn("16/B374D848")) == "16/B374D848"
    assert parse_lsn("1/0") > parse_lsn("0/FFFFFFFF")


@pytest.mark.parametrize("bad", ["", "0", "/1", "1/", "x/1", "123456789/0"])
def test_malformed_lsn_is_rejected(bad: str) -> None:
    with pytest.raises(ValueError):  # noqa: PT011  (int() and ours raise plain ValueError)
        parse_lsn(bad)


def test_token_round_trip_and_forgery() -> None:
    codec = TokenCodec("a" * 40)
    token = codec.encode(123456789)
    assert codec.decode(token) == 123456789
    body, _, mac = token.partition(".")
    assert codec.decode(f"{int(body, 16) + 1:x}.{mac}") is None  # moved position
    assert TokenCodec("b" * 40).decode(token) is None  # other secret
    for bad in ("", ".", "zz.zz", token + "0", "f" * 100, f"{body}.", f".{mac}"):
        assert codec.decode(bad) is None


def test_token_is_read_from_header_first_then_cookie() -> None:
    cookie = f"a=1; {COOKIE}=from-cookie; b=2".encode()
    assert _token_from_headers([(b"cookie", cookie)]) == "from-cookie"
    both = [(b"cookie", cookie), (HEADER.lower().encode(), b"from-header")]
    assert _token_from_headers(both) == "from-header"
    assert _token_from_headers([(b"cookie", b"other=1")]) is None


async def test_without_replicas_no_write_carries_a_token(
    client: AsyncClient, make_account: AccountFactory
) -> None:
    """Through the normal test harness (no DATABASE_REPLICA_URLS): every read goes to the
    primary, so no write asks it for its WAL position (test_replicas.py: with a replica)."""
    account = await make_account()
    created = await client.post(
        "/api/v1/posts",
        json={"title": "t", "body": "b", "status": "published"},
        headers=account.headers,
    )
    assert created.status_code == 201
    read = await client.get(f"/api/v1/posts/{created.json()['id']}", headers=account.headers)
    assert read.status_code == 200
    for answer in (created, read):
        assert HEADER not in answer.headers
        assert "set-cookie" not in answer.headers
