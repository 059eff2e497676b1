"""The bulk writes of `/posts/bulk` (up to 1000 items): create, publish or unpublish, delete.

Each item is validated on its own; a status change or delete is one UPDATE per target guarded
by `(id, version) IN (...)`, so a row changed in between is reported, never overwritten."""

from collections.abc import Sequence
from typing import Any, TypeVar

from pydantic import BaseModel, ValidationError
from sqlalchemy.exc import IntegrityError
from sqlmodel.ext.asyncio.session import AsyncSession

from service.kit.model_base import utcnow
from service.posts import repository, slugs
from service.posts.events import PostPublished, Publisher
from service.posts.models import PostStatus, new_row
from service.posts.schemas import (
    BulkChangeResult,
    BulkDeleteItem,
    BulkError,
    BulkResult,
    BulkStatusItem,
    PostCreate,
)
from service.tags import service as tags
from service.users.models import User

Item = TypeVar("Item", BulkStatusItem, BulkDeleteItem)


def _error_text(error: ValidationError) -> str:
    return "; ".join(
        f"{'.'.join(str(p) for p in e['loc']) or 'item'}: {e['msg']}" for e in error.errors()
    )


async def bulk_create(
    session: AsyncSession, publisher: Publisher, *, author: User, items: list[Any]
) -> BulkResult:
    """Validate each item; insert the good ones in one multi-row INSERT; isolate failures.

    Tags of the whole batch are upserted in one statement and linked in one more. If the
    multi-row insert hits a constraint, the batch falls back to one SAVEPOINT per row, so the
    rows that fail are reported as `{index, detail}` and the others are kept.
    """
    assert author.id is not None
    errors: list[BulkError] = []
    valid: list[tuple[int, PostCreate]] = []
    for index, item in enumerate(items):
        try:
            valid.append((index, PostCreate.model_validate(item)))
        except ValidationError as error:
            errors.append(BulkError(index=index, detail=_error_text(error)))
    derived = [data.title for _, data in valid if data.slug is None]
    taken = await repository.taken_slugs(session, [slugs.slugify(t) for t in derived])
    generated = iter(slugs.unique_batch(derived, taken))
    now = utcnow()
    assert author.id is not None
    rows = [
        new_row(author.id, data, now)
        | {"slug": data.slug if data.slug is not None else next(generated)}
        for _, data in valid
    ]
    created = await _insert(session, valid, rows, errors)
    by_index = dict(valid)
    by_name = await tags.get_or_create(
        session, {name for index, _ in created for name in by_index[index].tags}
    )
    await tags.link(
        session,
        [
            (post_id, tag_id)
            for index, post_id in created
            for name in by_index[index].tags
            if (tag_id := by_name[name].id) is not None
        ],
    )
    published = [
        PostPublished(post_id, author.id)
        for index, post_id in created
        if by_index[index].status == PostStatus.published
    ]
    await publisher.published(session, published)
    errors.sort(key=lambda e: e.index)
    return BulkResult(created=[post_id for _, post_id in created], errors=errors)


async def _insert(
    session: AsyncSession,
    valid: list[tuple[int, PostCreate]],
    rows: list[dict[str, Any]],
    errors: list[BulkError],
) -> list[tuple[int, int]]:
    """(item index, post id) of the inserted rows; a failing row's error goes to `errors`."""
    if not rows:
        return []
    try:
        async with session.begin_nested():
            ids = await repository.insert_many(session, rows)
        return [(index, post_id) for (index, _), post_id in zip(valid, ids, strict=True)]
    except IntegrityError:
        pass
    created: list[tuple[int, int]] = []
    for (index, _), row in zip(valid, rows, strict=True):
        try:
            async with session.begin_nested():
                (post_id,) = await repository.insert_many(session, [row])
            created.append((index, post_id))
        except IntegrityError as error:
            detail = (
                "slug: already taken"
                if slugs.is_slug_conflict(error)
                else "violates a database constraint"
            )
            errors.append(BulkError(index=index, detail=detail))
    return created


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
    """(version, status) of the caller's live posts among the items."""
    ids = [item.id for _, item in valid]  # type: ignore[attr-defined]
    return await repository.current_versions(session, author_id, ids)


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
    changed = await repository.update_versioned(session, author_id, keys, values)
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
        values = {"status": status, "publish_at": None}  # a scheduled post loses its time
        changed += await _apply(session, author.id, group, values, errors)
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
