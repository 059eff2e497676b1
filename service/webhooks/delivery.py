"""The delivery loop: claims the oldest pending delivery of each endpoint, sends it, records
the outcome, retries with backoff, dead-letters, and disables endpoints that keep failing.

In order per endpoint: only an endpoint's oldest pending delivery is ever claimed, so the next
one waits while an earlier one is pending. At least once: the attempt is recorded before the
request goes out and the delivery is leased, so a sender killed mid-request leaves a lease that
expires and the delivery is sent again (docs/operations.md)."""

import asyncio
import contextlib
import logging
import random
from collections.abc import Sequence
from datetime import datetime, timedelta
from typing import Any

from sqlalchemy.ext.asyncio import async_sessionmaker
from sqlmodel.ext.asyncio.session import AsyncSession

from service.database.session import own_transaction
from service.kit.model_base import utcnow
from service.kit.tasks import cancel_and_wait
from service.notifications.service import notify_webhook_disabled
from service.webhooks import repository
from service.webhooks.secrets import SecretBox
from service.webhooks.sending import Outcome, Sending
from service.webhooks.settings import WebhooksSettings

log = logging.getLogger("inkwell.webhooks")
DISABLED = "It failed for {days:g} days in a row."


class Sender:
    """One per process that runs jobs; `wake()` after deliveries are queued."""

    def __init__(
        self, settings: WebhooksSettings, sessionmaker: async_sessionmaker[AsyncSession]
    ) -> None:
        self.settings = settings
        self.sessionmaker = sessionmaker
        self.sending = Sending(settings, SecretBox(settings.webhook_secret_key))
        self._wake = asyncio.Event()
        self._task: asyncio.Task[None] | None = None
        self._unrecorded: tuple[Sequence[Any], list[Outcome]] | None = None

    def wake(self) -> None:
        self._wake.set()

    def start(self) -> None:
        self._task = asyncio.create_task(self._forever(), name="webhooks-sender")

    async def stop(self) -> None:
        if self._task is not None:
            await cancel_and_wait(self._task)
            self._task = None
        with contextlib.suppress(Exception):  # the leases expire and the deliveries go again
            await self.flush()
        await self.sending.close()

    async def run_once(self) -> int:
        """Record the previous round's outcomes and claim the next round in ONE transaction,
        then send; returns how many deliveries were attempted (0: nothing was due)."""
        now = utcnow()
        if self._unrecorded is None:
            async with self.sessionmaker() as session:
                if not await repository.anything_due(session, now):
                    return 0
        lease = now + timedelta(seconds=self.settings.webhook_lease_seconds)
        async with own_transaction(self.sessionmaker) as session:
            if self._unrecorded is not None:
                await self._record(session, *self._unrecorded)
            claimed = await repository.claim(
                session, now=now, lease_until=lease, limit=self.settings.webhook_batch_size
            )
        self._unrecorded = None
        if not claimed:
            return 0
        self._unrecorded = (claimed, await self.sending.send_all(claimed))
        return len(claimed)

    async def flush(self) -> None:
        """Record what the last round sent (before a stop)."""
        if self._unrecorded is not None:
            async with own_transaction(self.sessionmaker) as session:
                await self._record(session, *self._unrecorded)
            self._unrecorded = None

    async def drain(self, max_seconds: float = 30.0) -> int:
        """Send until nothing is due (tests, tools); deliveries waiting for a retry stay."""
        total = 0
        async with asyncio.timeout(max_seconds):
            while sent := await self.run_once():
                total += sent
        return total

    async def _record(
        self, session: AsyncSession, claimed: Sequence[Any], outcomes: Sequence[Outcome]
    ) -> None:
        now = utcnow()
        pairs = list(zip(claimed, outcomes, strict=True))
        rows = [self._outcome(row, outcome, now) for row, outcome in pairs]
        ok = {row.endpoint_id for row, outcome in pairs if outcome.succeeded}
        failed = {row.endpoint_id for row, outcome in pairs if not outcome.succeeded}
        days = self.settings.webhook_disable_after_days
        await repository.record(session, rows)
        await repository.mark_endpoints(session, succeeded=ok, failed=failed, now=now)
        if failed:
            disabled = await repository.disable_failing(
                session,
                since=now - timedelta(days=days),
                reason=DISABLED.format(days=days),
                now=now,
            )
            if disabled:
                log.warning("webhook endpoints disabled", extra={"count": len(disabled)})
                await notify_webhook_disabled(session, user_ids=[d.user_id for d in disabled])

    def _outcome(self, row: Any, outcome: Outcome, now: datetime) -> dict[str, Any]:
        attempt = int(row.attempts) + 1
        expired = now >= row.expires_at
        if outcome.succeeded:
            status, next_at, finished = "succeeded", None, now
        elif expired:
            status, next_at, finished = "failed", None, now
        else:
            status, next_at, finished = "pending", now + self.backoff(attempt), None
        return {
            "delivery_id": row.id,
            "number": attempt,
            "outcome": outcome.outcome,
            "response_code": outcome.response_code,
            "duration_ms": outcome.duration_ms,
            "error": outcome.error,
            "at": now,
            "status": status,
            "next_attempt_at": next_at,
            "finished_at": finished,
        }

    def backoff(self, attempt: int) -> timedelta:
        """Exponential, capped, with jitter (75-100% of the step) so retries do not align."""
        base, cap = self.settings.webhook_backoff_seconds, self.settings.webhook_backoff_max_seconds
        step = min(cap, base * 2 ** min(attempt - 1, 30))
        return timedelta(seconds=step * random.uniform(0.75, 1.0))

    async def _forever(self) -> None:
        while True:
            try:
                sent = await self.run_once()
            except asyncio.CancelledError:
                raise
            except Exception as error:
                log.warning("webhook round failed; retrying", extra={"error": type(error).__name__})
                sent = 0
            if not sent:
                with contextlib.suppress(TimeoutError):
                    await asyncio.wait_for(self._wake.wait(), self.settings.webhook_poll_seconds)
                self._wake.clear()
