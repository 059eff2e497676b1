"""Webhook helpers shared by the tests: the API paths, an endpoint made through the API, and
the hostile URLs that must be refused at registration and at delivery."""

from typing import Any

from httpx import AsyncClient

from tests.support.accounts import Account

WEBHOOKS = "/api/v1/users/me/webhooks"
ALL_EVENTS = ["post.published", "comment.created", "follower.added", "post.liked"]

HOSTILE_URLS = [
    "http://127.0.0.1/hook",
    "http://localhost/hook",
    "http://2130706433/",  # 127.0.0.1 as one decimal number
    "http://0177.0.0.1/",  # octal
    "http://0x7f.1/",  # hex, two parts
    "http://127.1/",
    "http://0/",  # 0.0.0.0
    "http://0.0.0.0/",
    "http://10.0.0.1/",
    "http://172.16.5.4/",
    "http://192.168.1.1/",
    "http://100.64.0.1/",  # shared address space (carrier NAT)
    "http://169.254.169.254/latest/meta-data/",  # link-local: cloud metadata
    "http://224.0.0.1/",  # multicast
    "http://240.0.0.1/",  # reserved
    "http://255.255.255.255/",
    "http://[::1]/",
    "http://[::]/",
    "http://[::ffff:127.0.0.1]/",  # IPv4-mapped IPv6
    "http://[::ffff:7f00:1]/",
    "http://[::ffff:169.254.169.254]/",
    "http://[fe80::1]/",
    "http://[fc00::1]/",  # unique local
    "http://[ff02::1]/",  # multicast
    "http://[2002:7f00:1::]/",  # 6to4 of 127.0.0.1
    "http://user:secret@93.184.215.14/",  # credentials
    "http://user@93.184.215.14/",
    "ftp://93.184.215.14/",
    "file:///etc/passwd",
    "gopher://93.184.215.14/",
    "http:///no-host",
    "http://does-not-resolve.invalid/",
]
PUBLIC_URL = "https://93.184.215.14/hook"
"""A public address literal: accepted without any DNS lookup (nothing is ever sent to it)."""


async def create_endpoint(
    client: AsyncClient,
    account: Account,
    *,
    url: str = PUBLIC_URL,
    events: list[str] | None = None,
    **fields: Any,
) -> dict[str, Any]:
    payload = {"url": url, "events": events or ALL_EVENTS, **fields}
    response = await client.post(WEBHOOKS, json=payload, headers=account.headers)
    assert response.status_code == 201, response.text
    body: dict[str, Any] = response.json()
    return body
