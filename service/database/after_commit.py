"""Work that must happen once the current transaction commits, and never if it rolls back.

The one commit place (`get_session`, `own_transaction`) runs the callbacks after its COMMIT, in
registration order; a rolled-back SAVEPOINT drops its own. Only this module touches their
`session.info` key."""

import inspect
import logging
from collections.abc import Awaitable, Callable
from dataclasses import dataclass

from sqlalchemy import event
from sqlalchemy.orm import Session, SessionTransaction
from sqlmodel.ext.asyncio.session import AsyncSession

log = logging.getLogger("inkwell.db")

Callback = Callable[[], Awaitable[None] | None]
_KEY = "kit.after_commit"


@dataclass(frozen=True)
class _Pending:
    transaction: SessionTransaction | None
    """The (nested) transaction it was registered in: its rollback drops the callback."""
    callback: Callback


def after_commit(session: AsyncSession, callback: Callback) -> None:
    """Run `callback` (sync or async) once this session's transaction has committed."""
    sync = session.sync_session
    pending: list[_Pending] | None = sync.info.get(_KEY)
    if pending is None:
        pending = sync.info[_KEY] = []
        event.listen(sync, "after_soft_rollback", _drop_rolled_back)
    pending.append(_Pending(sync.get_nested_transaction() or sync.get_transaction(), callback))


async def run_after_commit(session: AsyncSession) -> None:
    """Called by the commit place after COMMIT: each callback once; failures are logged."""
    pending: list[_Pending] = session.sync_session.info.pop(_KEY, [])
    for item in pending:
        try:
            result = item.callback()
            if inspect.isawaitable(result):
                await result
        except Exception:
            log.exception("after-commit callback failed")


def discard_after_commit(session: AsyncSession) -> None:
    """Forget every pending callback (the transaction rolled back)."""
    session.sync_session.info.pop(_KEY, None)


def _drop_rolled_back(session: Session, rolled_back: SessionTransaction) -> None:
    pending: list[_Pending] = session.info.get(_KEY, [])
    if pending:
        session.info[_KEY] = [p for p in pending if not _within(p.transaction, rolled_back)]


def _within(transaction: SessionTransaction | None, ancestor: SessionTransaction) -> bool:
    while transaction is not None:
        if transaction is ancestor:
            return True
        transaction = transaction.parent
    return False
