from datetime import datetime
from typing import Annotated

from fastapi import APIRouter, BackgroundTasks, Header, Query, Response, status

from service.core.db import ReadSessionDep, SessionDep, SessionMakerDep
from service.core.errors import Unauthorized
from service.core.pagination import Page, PagerDep
from service.core.schemas import IdPath
from service.notifications.service import schedule_fan_out
from service.posts import repository, service
from service.posts.models import Post, PostStatus
from service.posts.repository import PostFilter
from service.posts.schemas import PostCreate, PostPublic, PostSort, PostUpdate
from service.users.dependencies import CurrentUser, OptionalUser

router = APIRouter(prefix="/posts", tags=["posts"])

IfMatch = Annotated[str | None, Header(description="ETag of the version being changed")]


def _respond(post: Post, response: Response) -> PostPublic:
    response.headers["ETag"] = service.etag(post)
    return PostPublic.model_validate(post)


@router.post("", status_code=status.HTTP_201_CREATED, response_model=PostPublic)
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


@router.get("", response_model=Page[PostPublic])
async def list_posts(
    session: ReadSessionDep,
    pager: PagerDep,
    viewer: OptionalUser,
    author_id: Annotated[int | None, Query(ge=1)] = None,
    status_: Annotated[PostStatus, Query(alias="status")] = PostStatus.published,
    created_after: datetime | None = None,
    created_before: datetime | None = None,
    sort: PostSort = PostSort.newest,
) -> Page[PostPublic]:
    if status_ is PostStatus.draft:
        # Drafts are private: a listing of drafts is always of the viewer's own.
        if viewer is None:
            raise Unauthorized("Sign in to list your drafts.")
        author_id = viewer.id
    filters = PostFilter(author_id, status_, created_after, created_before)
    key = repository.SORTS[sort]
    rows = await service.list_page(
        session, filters=filters, sort=key, after=pager.after(key), limit=pager.limit
    )
    items, next_cursor = pager.page(rows, key)
    return Page(items=[PostPublic.model_validate(p) for p in items], next_cursor=next_cursor)


@router.get("/{post_id}", response_model=PostPublic)
async def read_post(
    post_id: IdPath, session: ReadSessionDep, viewer: OptionalUser, response: Response
) -> PostPublic:
    return _respond(await service.get_visible(session, post_id, viewer), response)


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
