"""Bulk status change and bulk soft delete of the caller's own posts (up to 1000 per request).

Three statements whatever the count: one SELECT of the current rows, then one UPDATE per
target (published / draft / deleted) guarded by `(id, version) IN (...)`, so a row that another
request changed in between is not touched and is reported, never overwritten (the same
optimistic lock as `PATCH /posts/{id}`, done in SQL). Items that fail validation, name no post
of the caller's, or carry a stale `version` are reported as `{index, detail}`; the others are
applied.
"""

from collections.abc import Sequence
from typing import Any, TypeVar

from pydantic import BaseModel, ValidationError
from sqlalchemy import Table, tuple_, update
from sqlmodel import col, select
from sqlmodel.ext.asyncio.session import AsyncSession

from service.kit.model_base import utcnow
from service.posts.bulk import _error_text
from service.posts.events import PostPublished, Publisher
from service.posts.models import Post, PostStatus
from service.posts.schemas import BulkChangeResult, BulkDeleteItem, BulkError, BulkStatusItem
from service.users.models import User

POSTS: Table = Post.__table__  # type: ignore[attr-defined]
Item = TypeVar("Item", BulkStatusItem, BulkDeleteItem)


def _validate(
    items: list[Any], model: type[Item], errors: list[BulkError]
) -> list[tuple[int, Item]]:
    valid: list[tuple[int, Item]] = []
    seen: set[int] = set()
    for index, raw in enumerate(items):
        try:
            item = model.model_validate(raw)
        except ValidationError as error:
            errors.append(BulkError(index=index, detail=_error_text(error)))
            continue
        if item.id in seen:
            errors.append(BulkError(index=index, detail="id: listed twice"))
            continue
        seen.add(item.id)
        valid.append((index, item))
    return valid


async def _current(
    session: AsyncSession, author_id: int, valid: Sequence[tuple[int, BaseModel]]
) -> dict[int, tuple[int, PostStatus]]:
    """(version, status) of the caller's live posts among the items, in one SELECT."""
    ids = [item.id for _, item in valid]  # type: ignore[attr-defined]
    statement = select(col(Post.id), col(Post.version), col(Post.status)).where(
        col(Post.id).in_(ids), col(Post.author_id) == author_id
    )
    rows = (await session.exec(statement)).all()
    return {post_id: (version, status) for post_id, version, status in rows if post_id is not None}


def _checked(
    valid: Sequence[tuple[int, Item]],
    current: dict[int, tuple[int, PostStatus]],
    errors: list[BulkError],
) -> list[tuple[int, Item, int]]:
    """(index, item, version to match) of the items that name a post of the caller's."""
    ready = []
    for index, item in valid:
        if item.id not in current:
            errors.append(BulkError(index=index, detail="no such post of yours"))
            continue
        version = current[item.id][0]
        if item.version is not None and item.version != version:
            errors.append(BulkError(index=index, detail=f"version {version} is current"))
            continue
        ready.append((index, item, version))
    return ready


async def _apply(
    session: AsyncSession,
    author_id: int,
    ready: Sequence[tuple[int, Any, int]],
    values: dict[str, Any],
    errors: list[BulkError],
) -> list[int]:
    """One guarded UPDATE; items whose row moved on since the SELECT are reported."""
    if not ready:
        return []
    keys = [(item.id, version) for _, item, version in ready]
    statement = (
        update(POSTS)
        .where(tuple_(POSTS.c.id, POSTS.c.version).in_(keys))
        .where(POSTS.c.author_id == author_id, POSTS.c.deleted_at.is_(None))
        .values(**values, version=POSTS.c.version + 1, updated_at=utcnow())
        .returning(POSTS.c.id)
    )
    changed = set((await session.exec(statement)).scalars().all())
    for index, item, _ in ready:
        if item.id not in changed:
            errors.append(BulkError(index=index, detail="changed by another request; retry"))
    return [item.id for _, item, _ in ready if item.id in changed]


async def bulk_set_status(
    session: AsyncSession, publisher: Publisher, *, author: User, items: list[Any]
) -> BulkChangeResult:
    """Publish or unpublish the caller's posts; newly published ones are announced."""
    assert author.id is not None
    errors: list[BulkError] = []
    valid = _validate(items, BulkStatusItem, errors)
    current = await _current(session, author.id, valid)
    ready = _checked(valid, current, errors)
    changed: list[int] = []
    for status in PostStatus:
        group = [r for r in ready if r[1].status == status and current[r[1].id][1] != status]
        changed += await _apply(session, author.id, group, {"status": status}, errors)
    # Items already in the asked status need no write: they count as done.
    changed += [item.id for _, item, _ in ready if current[item.id][1] == item.status]
    published = {
        item.id
        for _, item, _ in ready
        if item.status == PostStatus.published and current[item.id][1] != PostStatus.published
    }
    await publisher.published(
        session, [PostPublished(post_id, author.id) for post_id in changed if post_id in published]
    )
    return _result(changed, errors)


async def bulk_delete(session: AsyncSession, *, author: User, items: list[Any]) -> BulkChangeResult:
    """Soft-delete the caller's posts (restore stays one by one: POST /posts/{id}/restore)."""
    assert author.id is not None
    errors: list[BulkError] = []
    valid = _validate(items, BulkDeleteItem, errors)
    current = await _current(session, author.id, valid)
    ready = _checked(valid, current, errors)
    changed = await _apply(session, author.id, ready, {"deleted_at": utcnow()}, errors)
    return _result(changed, errors)


def _result(changed: list[int], errors: list[BulkError]) -> BulkChangeResult:
    return BulkChangeResult(changed=sorted(changed), errors=sorted(errors, key=lambda e: e.index))
