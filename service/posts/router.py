import re
from collections.abc import Sequence
from datetime import datetime
from typing import Annotated

from fastapi import APIRouter, BackgroundTasks, Header, Query, Response, status
from sqlmodel.ext.asyncio.session import AsyncSession

from service.kit.db.session import ReadSessionDep, SessionDep, SessionMakerDep
from service.kit.errors import BadRequest, Unauthorized
from service.kit.pagination import Page, Pager, PagerDep, SortKey
from service.kit.schemas import MAX_BIGINT, IdPath
from service.notifications.service import schedule_fan_out
from service.posts import repository, service
from service.posts.models import Post, PostStatus
from service.posts.repository import PostFilter, PublicRow
from service.posts.schemas import (
    BulkCreate,
    BulkResult,
    LikeState,
    PostCreate,
    PostPublic,
    PostSort,
    PostUpdate,
)
from service.tags.schemas import normalise_tags
from service.users.dependencies import CurrentUser, Idempotent, OptionalUser

router = APIRouter(prefix="/posts", tags=["posts"])

IfMatch = Annotated[
    str | None, Header(max_length=256, description="ETag of the version being changed")
]
_META_KEY = re.compile(r"^[A-Za-z0-9_-]{1,64}$")


def _respond(post: Post, response: Response) -> PostPublic:
    response.headers["ETag"] = service.etag(post)
    return PostPublic.model_validate(post)


async def _page(
    session: AsyncSession, rows: Sequence[PublicRow], key: SortKey, pager: Pager
) -> Page[PostPublic]:
    items, next_cursor = pager.page(rows, key)
    return Page(items=await service.to_public(session, items), next_cursor=next_cursor)


def _parse_meta(meta: str) -> tuple[str, str]:
    key, sep, value = meta.partition(":")
    if not sep or not _META_KEY.match(key):
        raise BadRequest("meta must be key:value with a key of letters, digits, _ or -.")
    return key, value


def _parse_tag(tag: str) -> str:
    try:
        return normalise_tags([tag])[0]
    except ValueError as error:
        raise BadRequest(f"tag: {error}") from error


@router.post(
    "", status_code=status.HTTP_201_CREATED, response_model=PostPublic, dependencies=[Idempotent]
)
async def create_post(
    data: PostCreate,
    user: CurrentUser,
    session: SessionDep,
    response: Response,
    tasks: BackgroundTasks,
    sessionmaker: SessionMakerDep,
) -> PostPublic:
    post = await service.create(session, author=user, data=data)
    schedule_fan_out(tasks, sessionmaker, session)
    response.headers["Location"] = f"/api/v1/posts/{post.id}"
    return _respond(post, response)


@router.post(
    "/bulk",
    status_code=status.HTTP_201_CREATED,
    response_model=BulkResult,
    dependencies=[Idempotent],
)
async def bulk_create_posts(
    data: BulkCreate,
    user: CurrentUser,
    session: SessionDep,
    tasks: BackgroundTasks,
    sessionmaker: SessionMakerDep,
) -> BulkResult:
    """Up to 1000 posts; bad items are reported as `{index, detail}`, good ones are kept."""
    result = await service.bulk_create(session, author=user, items=data.items)
    schedule_fan_out(tasks, sessionmaker, session)
    return result


@router.get("", response_model=Page[PostPublic])
async def list_posts(
    session: ReadSessionDep,
    pager: PagerDep,
    viewer: OptionalUser,
    author_id: Annotated[int | None, Query(ge=1, le=MAX_BIGINT)] = None,
    status_: Annotated[PostStatus, Query(alias="status")] = PostStatus.published,
    created_after: datetime | None = None,
    created_before: datetime | None = None,
    tag: Annotated[str | None, Query(max_length=64)] = None,
    q: Annotated[str | None, Query(min_length=1, max_length=200, description="full text")] = None,
    meta: Annotated[str | None, Query(max_length=300, description="key:value")] = None,
    commented_by: Annotated[int | None, Query(ge=1, le=MAX_BIGINT, description="a user id")] = None,
    sort: PostSort = PostSort.newest,
) -> Page[PostPublic]:
    if status_ is PostStatus.draft:
        # Drafts are private: a listing of drafts is always of the viewer's own.
        if viewer is None:
            raise Unauthorized("Sign in to list your drafts.")
        author_id = viewer.id
    filters = PostFilter(
        author_id=author_id,
        status=status_,
        created_after=created_after,
        created_before=created_before,
        tag=None if tag is None else _parse_tag(tag),
        q=q,
        meta=None if meta is None else _parse_meta(meta),
        commented_by=commented_by,
    )
    key = repository.SORTS[sort]
    rows = await service.list_page(
        session, filters=filters, sort=key, after=pager.after(key), limit=pager.limit
    )
    return await _page(session, rows, key, pager)


@router.get("/search", response_model=list[PostPublic])
async def search_posts(
    session: ReadSessionDep,
    q: Annotated[str, Query(min_length=1, max_length=200)],
    limit: Annotated[int, Query(ge=1, le=100)] = 20,
) -> list[PostPublic]:
    """Best `limit` matches, ranked (ts_rank on PostgreSQL, bm25 on SQLite); no cursor."""
    return await service.to_public(session, await service.search(session, q=q, limit=limit))


@router.get("/top", response_model=Page[PostPublic])
async def top_posts(
    session: ReadSessionDep,
    pager: PagerDep,
    per_author: Annotated[int, Query(ge=1, le=20)] = 3,
) -> Page[PostPublic]:
    """Each author's `per_author` most liked posts, most liked first (keyset pages)."""
    key = repository.SORTS[PostSort.most_liked]
    rows = await service.top(
        session, per_author=per_author, sort=key, after=pager.after(key), limit=pager.limit
    )
    return await _page(session, rows, key, pager)


@router.get("/{post_id}", response_model=PostPublic)
async def read_post(
    post_id: IdPath, session: ReadSessionDep, viewer: OptionalUser, response: Response
) -> PostPublic:
    post = await service.read_visible(session, post_id, viewer)
    response.headers["ETag"] = service.etag(post)
    return post


@router.patch("/{post_id}", response_model=PostPublic)
async def update_post(
    post_id: IdPath,
    data: PostUpdate,
    user: CurrentUser,
    session: SessionDep,
    response: Response,
    tasks: BackgroundTasks,
    sessionmaker: SessionMakerDep,
    if_match: IfMatch = None,
) -> PostPublic:
    post = await service.get_owned(session, post_id, user)
    post = await service.update(session, post=post, data=data, if_match=if_match)
    schedule_fan_out(tasks, sessionmaker, session)
    return _respond(post, response)


@router.delete("/{post_id}", status_code=status.HTTP_204_NO_CONTENT)
async def delete_post(
    post_id: IdPath, user: CurrentUser, session: SessionDep, if_match: IfMatch = None
) -> None:
    post = await service.get_owned(session, post_id, user)
    await service.soft_delete(session, post=post, if_match=if_match)


@router.post("/{post_id}/restore", response_model=PostPublic)
async def restore_post(
    post_id: IdPath, user: CurrentUser, session: SessionDep, response: Response
) -> PostPublic:
    post = await service.get_owned(session, post_id, user, include_deleted=True)
    return _respond(await service.restore(session, post=post), response)


@router.put("/{post_id}/like", response_model=LikeState)
async def like_post(post_id: IdPath, user: CurrentUser, session: SessionDep) -> LikeState:
    """Idempotent: liking twice counts once."""
    return await service.like(session, post_id=post_id, user=user)


@router.delete("/{post_id}/like", response_model=LikeState)
async def unlike_post(post_id: IdPath, user: CurrentUser, session: SessionDep) -> LikeState:
    return await service.unlike(session, post_id=post_id, user=user)
