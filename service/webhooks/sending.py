"""One attempt at one delivery: the address checked again, the connection pinned to it, the
body signed (Standard Webhooks), a bounded wait, and what came of it."""

import asyncio
import time
from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any

import httpx

from service.webhooks import signing, ssrf
from service.webhooks.secrets import SecretBox
from service.webhooks.settings import WebhooksSettings

USER_AGENT = "Inkwell-Webhooks/1"


@dataclass(frozen=True)
class Outcome:
    outcome: str  # succeeded, failed, timeout, refused, error
    response_code: int | None = None
    duration_ms: int | None = None
    error: str | None = None

    @property
    def succeeded(self) -> bool:
        return self.outcome == "succeeded"


def http_client(timeout: float) -> httpx.AsyncClient:
    """No redirects, no proxy or netrc from the environment, a bound on every phase."""
    return httpx.AsyncClient(
        follow_redirects=False,
        trust_env=False,
        timeout=httpx.Timeout(timeout),
        limits=httpx.Limits(max_connections=200, max_keepalive_connections=50),
    )


class Sending:
    def __init__(self, settings: WebhooksSettings, box: SecretBox) -> None:
        self.settings = settings
        self.box = box
        self.client = http_client(settings.webhook_timeout_seconds)
        self._slots = asyncio.Semaphore(settings.webhook_concurrency)

    async def close(self) -> None:
        await self.client.aclose()

    async def send_all(self, claimed: Sequence[Any]) -> list[Outcome]:
        return list(await asyncio.gather(*(self._bounded(row) for row in claimed)))

    async def _bounded(self, row: Any) -> Outcome:
        try:
            secret = self.box.open(row.sealed_secret, owner_id=row.user_id)
        except ValueError:  # sealed with another WEBHOOK_SECRET_KEY
            return Outcome("error", error="the signing secret cannot be opened")
        async with self._slots:
            return await self.send(
                url=row.url, secret=secret, message_id=row.message_id, body=row.body.encode()
            )

    async def send(self, *, url: str, secret: str, message_id: str, body: bytes) -> Outcome:
        """One POST; never raises for what the receiver or the network did."""
        started = time.monotonic()
        try:
            target = await ssrf.check(url, self.settings.webhook_allowed_hosts)
        except ssrf.Refused as refused:
            return Outcome("refused", error=str(refused)[:200])
        headers = signing.headers(secret, message_id, int(time.time()), body)
        headers |= {"host": target.host_header, "user-agent": USER_AGENT}
        extensions = {"sni_hostname": target.host} if target.url.startswith("https") else {}
        try:
            async with asyncio.timeout(self.settings.webhook_timeout_seconds):
                async with self.client.stream(
                    "POST", target.pinned_url, content=body, headers=headers, extensions=extensions
                ) as response:  # the status is all we read: a huge answer costs nothing
                    code = response.status_code
        except (TimeoutError, httpx.TimeoutException):
            return Outcome("timeout", duration_ms=_ms(started), error="no answer in time")
        except httpx.HTTPError as error:
            return Outcome("error", duration_ms=_ms(started), error=type(error).__name__)
        return Outcome(
            "succeeded" if 200 <= code < 300 else "failed",
            response_code=code,
            duration_ms=_ms(started),
            error=None if 200 <= code < 300 else f"HTTP {code}",
        )


def _ms(started: float) -> int:
    return int((time.monotonic() - started) * 1000)
