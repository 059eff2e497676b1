"""Post rules: visibility of drafts, ownership, slugs, optimistic locking, soft delete, tags,
likes; every answer a route gives. Never commits."""

from collections.abc import Sequence
from dataclasses import replace
from typing import TypeVar

from sqlalchemy.ext.asyncio import AsyncConnection
from sqlalchemy.orm.exc import StaleDataError
from sqlmodel.ext.asyncio.session import AsyncSession

from service.database.reads import Row
from service.kit.authz import ensure_owner
from service.kit.errors import Conflict, NotFound, PreconditionFailed, Unauthorized
from service.kit.model_base import utcnow
from service.kit.pagination import Page, Pager, SortKey
from service.kit.preconditions import Precondition
from service.moderation.models import Action
from service.posts import moderation, queries, repository, slugs
from service.posts.events import PostPublished, Publisher
from service.posts.models import Post, PostStatus, new_row
from service.posts.queries import PublicRow
from service.posts.representation import build, of_entity, to_public
from service.posts.schemas import LikeState, PostCreate, PostFilter, PostPublic, PostSort
from service.tags import service as tags
from service.users.models import User

_Found = TypeVar("_Found", Post, Row)


def _visible_to(post: Post | Row, viewer: User | None) -> bool:
    """A published post, or the viewer's own draft or scheduled post (an entity, or a row read
    by label)."""
    if isinstance(post, Post):
        status, author_id = post.status, post.author_id
    else:
        status, author_id = post["status"], post["author_id"]
    return status == PostStatus.published or (viewer is not None and viewer.id == author_id)


def _shown(found: _Found | None, viewer: User | None, *, any_status: bool = False) -> _Found:
    """`found` if it exists for `viewer` (`_visible_to`; with `any_status`, for moderators, any
    live post); otherwise NotFound, the same whether the post exists or not."""
    if found is None or not (any_status or _visible_to(found, viewer)):
        raise NotFound("No such post.")
    return found


async def create(
    session: AsyncSession, publisher: Publisher, *, author: User, data: PostCreate
) -> PostPublic:
    """The post, its tags and its outbox event in the request's transaction; the answer is built
    from what the INSERT returned and the caller (no read-back), as the next GET shows it."""
    assert author.id is not None
    row = await _insert(session, author.id, data)
    if data.tags:
        await tags.attach(session, row["id"], data.tags)
    if row["status"] == PostStatus.published:
        await publisher.published(session, [PostPublished(row["id"], author.id)])
    return build(
        {
            **row,
            "author_username": author.username,
            "author_display_name": author.display_name,
            "author_created_at": author.created_at,
            "tags": data.tags,
        }
    )


async def representation(session: AsyncSession, post_id: int) -> PostPublic:
    """The post as `GET /posts/{id}` will show it once this transaction commits, read by the
    same statement: the body and the ETag of a write's response are exactly those of the next
    GET (a document's key order, for one, is the database's: JSONB sorts keys)."""
    fields = await queries.BY_ID.first(session, post_id=post_id)
    assert fields is not None
    return build(fields)


SLUG_ATTEMPTS = 3
"""A derived slug that is taken gets a random suffix (36^6 of them): a third try never loses."""


async def _insert(session: AsyncSession, author_id: int, data: PostCreate) -> PublicRow:
    """Insert with the explicit slug (409 when taken), or the title's, suffixed when taken."""
    values = new_row(author_id, data, utcnow())
    slug = data.slug or slugs.slugify(data.title)
    for _ in range(SLUG_ATTEMPTS):
        row = await repository.insert_new(session, {**values, "slug": slug})
        if row is not None:
            return row
        if data.slug is not None:
            break
        slug = slugs.with_suffix(slugs.slugify(data.title))
    raise Conflict("That slug is already taken.")


async def get_visible(
    session: AsyncSession, post_id: int, viewer: User | None, *, bare: bool = False
) -> Post:
    """A published post, or the viewer's own draft; anything else does not exist for them.
    `bare`: the row only (no author, no tags), for callers that only check visibility."""
    return _shown(await repository.get(session, post_id, bare=bare), viewer)


async def check_visible(
    reader: AsyncConnection | AsyncSession, post_id: int, viewer: User | None
) -> None:
    """`get_visible` for the read path: NotFound unless the viewer may see the post."""
    _shown(await queries.VISIBILITY.first(reader, post_id=post_id), viewer)


async def get_any(session: AsyncSession, post_id: int) -> Post:
    """A live post whatever its status (for moderators, who act on drafts too)."""
    return _shown(await repository.get(session, post_id, bare=True), None, any_status=True)


async def read_post(
    reader: AsyncConnection | AsyncSession, post_id: int, viewer: User | None
) -> PostPublic:
    """`get_visible` for the read path: the public representation, one statement (no entity),
    with `bookmarked` for a signed-in viewer."""
    seen = {} if viewer is None else {"viewer_id": viewer.id}
    read = queries.BY_ID_SEEN if seen else queries.BY_ID
    return build(_shown(await read.first(reader, post_id=post_id, **seen), viewer))


async def read_published(session: AsyncSession, post_ids: list[int]) -> list[PostPublic]:
    """The published posts among `post_ids`, in id order (what the realtime feed shows)."""
    posts = to_public(await repository.get_many(session, post_ids))
    return [post for post in posts if post.status == PostStatus.published]


async def list_posts(
    reader: AsyncConnection,
    *,
    filters: PostFilter,
    sort: PostSort,
    pager: Pager,
    viewer: User | None,
) -> Page[PostPublic]:
    if filters.status is not PostStatus.published:
        # Drafts and scheduled posts are private: such a listing is always of the viewer's own.
        if viewer is None:
            raise Unauthorized("Sign in to list your drafts.")
        filters = replace(filters, author_id=viewer.id)
    key = queries.SORTS[sort]
    rows = await queries.page_rows(
        reader, filters=filters, sort=sort, after=pager.after(key), limit=pager.limit, viewer=viewer
    )
    return _page(rows, key, pager)


async def search_posts(session: AsyncSession, *, q: str, limit: int) -> list[PostPublic]:
    rows = await repository.best_matches(session, q=q, limit=limit)
    return to_public(rows)


async def top_posts(session: AsyncSession, *, per_author: int, pager: Pager) -> Page[PostPublic]:
    key = queries.SORTS[PostSort.most_liked]
    rows = await repository.top_per_author(
        session, per_author=per_author, sort=key, after=pager.after(key), limit=pager.limit
    )
    return _page(rows, key, pager)


def _page(rows: Sequence[PublicRow], key: SortKey, pager: Pager) -> Page[PostPublic]:
    items, next_cursor = pager.page(rows, key)
    return Page(items=to_public(items), next_cursor=next_cursor)


async def get_owned(
    session: AsyncSession, post_id: int, user: User, *, include_deleted: bool = False
) -> Post:
    post = await repository.get(session, post_id, include_deleted=include_deleted)
    return ensure_owner(post, user, visible=_visible_to, what="post")


def check_precondition(post: Post, precondition: Precondition) -> None:
    """412 unless `precondition` holds on the post's current representation. `post` is the
    entity with its author and tags, as loaded for the write: its representation is built the
    way a GET builds it (so an `If-Match` compares the ETag a GET sent); `bookmarked` is the
    reader's, not the post's: a tag of either value names this state of the post."""
    shown = [of_entity(post).model_copy(update={"bookmarked": b}) for b in (False, True)]
    if not any(precondition.holds(representation) for representation in shown):
        raise PreconditionFailed("The post has changed since you read it (If-Match).")


async def soft_delete(
    session: AsyncSession, *, post_id: int, user: User, precondition: Precondition
) -> None:
    """By the owner, or by a moderator (recorded in the moderation log)."""
    post = await moderation.get_moderatable(session, post_id, user)
    check_precondition(post, precondition)
    post.deleted_at = utcnow()
    moderation.record_if_moderated(session, post, user, Action.post_delete)
    await flush_versioned(session)


async def restore(session: AsyncSession, *, post_id: int, user: User) -> PostPublic:
    post = await moderation.get_moderatable(session, post_id, user, include_deleted=True)
    assert post.id is not None
    post.deleted_at = None
    moderation.record_if_moderated(session, post, user, Action.post_restore)
    await flush_versioned(session)
    return await representation(session, post.id)


async def flush_versioned(session: AsyncSession) -> None:
    try:
        await session.flush()
    except StaleDataError as error:
        # Another transaction bumped the version between our read and our write.
        raise PreconditionFailed("The post was changed by another request.") from error


async def like(
    session: AsyncSession, publisher: Publisher, *, post_id: int, user: User
) -> LikeState:
    """Idempotent: liking twice counts once."""
    post = await get_visible(session, post_id, user, bare=True)
    assert post.id is not None
    assert user.id is not None
    count = await repository.add_like(session, post_id=post.id, user_id=user.id)
    if count is None:  # already liked
        count = await repository.like_count(session, post.id)
    else:
        await publisher.liked(session, post_id=post.id, author_id=post.author_id, user_id=user.id)
    return LikeState(post_id=post.id, liked=True, like_count=count)


async def unlike(session: AsyncSession, *, post_id: int, user: User) -> LikeState:
    post = await get_visible(session, post_id, user, bare=True)
    assert post.id is not None
    assert user.id is not None
    count = await repository.remove_like(session, post_id=post.id, user_id=user.id)
    if count is None:
        count = await repository.like_count(session, post.id)
    return LikeState(post_id=post.id, liked=False, like_count=count)
