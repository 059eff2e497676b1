"""The bulk-create service: up to 1000 posts in a few statements, bad items reported by index."""

from typing import Any

from pydantic import ValidationError
from sqlalchemy.exc import IntegrityError
from sqlmodel.ext.asyncio.session import AsyncSession

from service.kit.model_base import utcnow
from service.posts import repository, slugs
from service.posts.events import PostPublished, Publisher
from service.posts.models import PostStatus, excerpt_of
from service.posts.schemas import BulkError, BulkResult, PostCreate
from service.tags import service as tags
from service.users.models import User


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
    rows = [
        {
            "author_id": author.id,
            "title": data.title,
            "body": data.body,
            "excerpt": excerpt_of(data.body),
            "status": data.status,
            "metadata": data.meta,
            "slug": data.slug if data.slug is not None else next(generated),
            "created_at": now,
            "updated_at": now,
        }
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
