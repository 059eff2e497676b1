"""Post rules: visibility of drafts, ownership, optimistic locking, soft delete, tags, likes,
bulk creation. Never commits."""

from collections.abc import Sequence
from typing import Any

from pydantic import ValidationError
from sqlalchemy.exc import IntegrityError
from sqlalchemy.orm.attributes import set_committed_value
from sqlalchemy.orm.exc import StaleDataError
from sqlmodel.ext.asyncio.session import AsyncSession

from service.kit.authz import ensure_owner
from service.kit.errors import Conflict, NotFound, PreconditionFailed
from service.kit.model_base import utcnow
from service.kit.pagination import SortKey
from service.posts import repository, slugs
from service.posts.models import Post, PostStatus
from service.posts.repository import PostFilter, PublicRow
from service.posts.schemas import (
    BulkError,
    BulkResult,
    LikeState,
    PostCreate,
    PostPublic,
    PostUpdate,
)
from service.realtime import events as realtime_events
from service.tags import service as tags
from service.users.models import User
from service.users.schemas import UserPublic


def etag(post: Post | PostPublic) -> str:
    return f'"{post.id}-{post.version}"'


def _visible_to(post: Post | PublicRow, viewer: User | None) -> bool:
    return post.status == PostStatus.published or (
        viewer is not None and viewer.id == post.author_id
    )


def _new_post(author_id: int, data: PostCreate, slug: str | None) -> Post:
    return Post(
        author_id=author_id,
        title=data.title,
        body=data.body,
        status=data.status,
        meta=data.meta,
        slug=slug,  # None: the before_insert listener derives it from the title
    )


async def create(session: AsyncSession, *, author: User, data: PostCreate) -> Post:
    assert author.id is not None
    post = _new_post(author.id, data, data.slug)
    try:
        # A SAVEPOINT, so that losing the slug race does not doom the request's transaction.
        async with session.begin_nested():
            session.add(post)
            await session.flush()
    except IntegrityError as error:
        if not slugs.is_slug_conflict(error):
            raise
        if data.slug is not None:
            raise Conflict("That slug is already taken.") from error
        # A concurrent insert took the derived slug between our check and our insert.
        post = _new_post(author.id, data, slugs.with_suffix(slugs.slugify(data.title)))
        session.add(post)
        await session.flush()
    assert post.id is not None
    await _set_tags(session, post, data.tags, new=True)
    set_committed_value(post, "author", author)
    await realtime_events.publish_post_created(session, post)
    return post


async def _set_tags(session: AsyncSession, post: Post, names: list[str], *, new: bool) -> None:
    assert post.id is not None
    by_name = await tags.get_or_create(session, names)
    chosen = [by_name[name] for name in names]
    if new:
        await tags.link(session, [(post.id, t.id) for t in chosen if t.id is not None])
    else:
        await repository.replace_tags(session, post.id, [t.id for t in chosen if t.id is not None])
    # The response shows the tags without another SELECT and without an ORM collection flush.
    set_committed_value(post, "tags", sorted(chosen, key=lambda t: t.name))


async def get_visible(
    session: AsyncSession, post_id: int, viewer: User | None, *, bare: bool = False
) -> Post:
    """A published post, or the viewer's own draft; anything else does not exist for them.

    `bare`: the row only (no author, no tags), for callers that only check visibility.
    """
    post = await repository.get(session, post_id, bare=bare)
    if post is None or not _visible_to(post, viewer):
        raise NotFound("No such post.")
    return post


async def read_visible(session: AsyncSession, post_id: int, viewer: User | None) -> PostPublic:
    """`get_visible` for the read path: the public representation, from columns (no entity)."""
    row = await repository.get_public(session, post_id)
    if row is None or not _visible_to(row, viewer):
        raise NotFound("No such post.")
    tags_by_post = await repository.tag_names(session, [post_id])
    return _public(row, tags_by_post[post_id])


async def to_public(session: AsyncSession, rows: Sequence[PublicRow]) -> list[PostPublic]:
    """A page of `repository.public_rows()` rows as PostPublic, tags in one more statement."""
    tags_by_post = await repository.tag_names(session, [row.id for row in rows])
    return [_public(row, tags_by_post[row.id]) for row in rows]


def _public(row: PublicRow, tags: list[str]) -> PostPublic:
    # model_construct: the row comes from the database through typed columns, so validating it
    # again would only cost time. Unpacked by position (the order of PUBLIC_COLUMNS), which is
    # cheaper than 14 attribute look-ups on a Row (docs/performance.md).
    (
        post_id,
        slug,
        title,
        body,
        status,
        meta,
        like_count,
        version,
        created_at,
        updated_at,
        author_id,
        username,
        display_name,
        author_created_at,
    ) = row
    author = UserPublic.model_construct(
        id=author_id, username=username, display_name=display_name, created_at=author_created_at
    )
    return PostPublic.model_construct(
        id=post_id,
        slug=slug,
        title=title,
        body=body,
        status=status,
        meta=meta,
        like_count=like_count,
        version=version,
        created_at=created_at,
        updated_at=updated_at,
        author=author,
        tags=tags,
    )


async def get_owned(
    session: AsyncSession, post_id: int, user: User, *, include_deleted: bool = False
) -> Post:
    post = await repository.get(session, post_id, include_deleted=include_deleted)
    return ensure_owner(post, user, visible=_visible_to, what="post")


async def list_page(
    session: AsyncSession,
    *,
    filters: PostFilter,
    sort: SortKey,
    after: Sequence[Any] | None,
    limit: int,
) -> Sequence[PublicRow]:
    return await repository.list_page(session, filters=filters, sort=sort, after=after, limit=limit)


async def search(session: AsyncSession, *, q: str, limit: int) -> Sequence[PublicRow]:
    return await repository.search(session, q=q, limit=limit)


async def top(
    session: AsyncSession,
    *,
    per_author: int,
    sort: SortKey,
    after: Sequence[Any] | None,
    limit: int,
) -> Sequence[PublicRow]:
    return await repository.top_per_author(
        session, per_author=per_author, sort=sort, after=after, limit=limit
    )


def check_precondition(post: Post, if_match: str | None) -> None:
    """412 unless `If-Match` is absent, `*`, or names the post's current version."""
    if if_match is None or if_match.strip() == "*":
        return
    tags_ = {t.strip().removeprefix("W/") for t in if_match.split(",")}
    if etag(post) not in tags_:
        raise PreconditionFailed("The post has changed since you read it.")


async def update(
    session: AsyncSession, *, post: Post, data: PostUpdate, if_match: str | None
) -> Post:
    check_precondition(post, if_match)
    was_published = post.status == PostStatus.published
    changes = data.model_dump(exclude_unset=True)
    new_tags = changes.pop("tags", None)
    for field, value in changes.items():
        if value is None:
            continue
        setattr(post, field, value)
    if new_tags is not None:
        await _set_tags(session, post, new_tags, new=False)
        # Link rows are not columns of `posts`: touch the row so the version still moves.
        post.updated_at = utcnow()
    await _flush_versioned(session)
    if not was_published:
        await realtime_events.publish_post_created(session, post)
    return post


async def soft_delete(session: AsyncSession, *, post: Post, if_match: str | None) -> None:
    check_precondition(post, if_match)
    post.deleted_at = utcnow()
    await _flush_versioned(session)


async def restore(session: AsyncSession, *, post: Post) -> Post:
    post.deleted_at = None
    await _flush_versioned(session)
    return post


async def _flush_versioned(session: AsyncSession) -> None:
    try:
        await session.flush()
    except StaleDataError as error:
        # Another transaction bumped the version between our read and our write.
        raise PreconditionFailed("The post was changed by another request.") from error


async def like(session: AsyncSession, *, post_id: int, user: User) -> LikeState:
    post = await get_visible(session, post_id, user, bare=True)
    assert post.id is not None
    assert user.id is not None
    count = await repository.add_like(session, post_id=post.id, user_id=user.id)
    if count is None:  # already liked: idempotent
        count = await repository.like_count(session, post.id)
    return LikeState(post_id=post.id, liked=True, like_count=count)


async def unlike(session: AsyncSession, *, post_id: int, user: User) -> LikeState:
    post = await get_visible(session, post_id, user, bare=True)
    assert post.id is not None
    assert user.id is not None
    count = await repository.remove_like(session, post_id=post.id, user_id=user.id)
    if count is None:
        count = await repository.like_count(session, post.id)
    return LikeState(post_id=post.id, liked=False, like_count=count)


def _error_text(error: ValidationError) -> str:
    return "; ".join(
        f"{'.'.join(str(p) for p in e['loc']) or 'item'}: {e['msg']}" for e in error.errors()
    )


async def bulk_create(session: AsyncSession, *, author: User, items: list[Any]) -> BulkResult:
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
            "status": data.status,
            "metadata": data.meta,
            "slug": data.slug if data.slug is not None else next(generated),
            "created_at": now,
            "updated_at": now,
        }
        for _, data in valid
    ]
    created: list[tuple[int, int]] = []  # (item index, post id)
    if rows:
        try:
            async with session.begin_nested():
                ids = await repository.insert_many(session, rows)
            created = [(index, post_id) for (index, _), post_id in zip(valid, ids, strict=True)]
        except IntegrityError:
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
    published = {i for i, _ in created if by_index[i].status == PostStatus.published}
    await realtime_events.publish_posts_created(
        session,
        [post_id for index, post_id in created if index in published],
        lambda ids: repository.get_many(session, ids),
    )
    errors.sort(key=lambda e: e.index)
    return BulkResult(created=[post_id for _, post_id in created], errors=errors)
