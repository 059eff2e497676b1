"""The idiomatic target: Inkwell's read endpoints written the way the SQLModel guide teaches.

A reader of `make bench` sees three columns: the service, the reference (raw asyncpg) and this
app, so what Inkwell's own patterns buy over the textbook pattern is measured, not claimed.
It follows ../shared/GUIDE.md ("SQLModel for FastAPI") on purpose, not Inkwell's patterns:

- table models with `Relationship`s, separate `response_model` schemas (`from_attributes`);
- one `AsyncSession` per request from a yield dependency (`Depends(get_session)`);
- `create_async_engine(..., pool_pre_ping=True)` with the same pool size as the other targets;
- `joinedload` for the author and `selectinload` for the tags (no N+1);
- cursor pagination (the same signed cursors as the service: loadtests/cursors.py).

The JSON is the service's, field for field (the harness compares it on live responses).
Its table models map Inkwell's tables read-only; run it in its own process (uvicorn), never
imported next to the service's models (both would register `posts` in SQLModel's metadata).

Run: `DATABASE_URL=... JWT_SECRET=... uvicorn loadtests.idiomatic.app:app`.
"""

import os
import uuid
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from datetime import datetime
from typing import Annotated, Any, Generic, TypeVar

from fastapi import Depends, FastAPI, HTTPException, Query, Request, Response
from pydantic import BaseModel, ConfigDict, field_validator
from sqlalchemy import Column, DateTime, ForeignKey, Uuid, func, tuple_
from sqlalchemy.dialects.postgresql import JSONB
from sqlalchemy.ext.asyncio import AsyncEngine, async_sessionmaker, create_async_engine
from sqlalchemy.orm import aliased, joinedload, selectinload
from sqlmodel import Field, Relationship, SQLModel, col, select
from sqlmodel.ext.asyncio.session import AsyncSession

from loadtests.cursors import COMMENTS, NEWEST, OLDEST, Cursors
from loadtests.idiomatic import writes

T = TypeVar("T")


def _utc_column() -> Any:
    return Field(sa_type=DateTime(timezone=True))


# --- table models ----------------------------------------------------------------------------


class User(SQLModel, table=True):
    __tablename__ = "users"

    id: int | None = Field(default=None, primary_key=True)
    username: str
    display_name: str | None = None
    created_at: datetime = _utc_column()
    token_version: int = 0


class PostTag(SQLModel, table=True):
    __tablename__ = "post_tags"

    post_id: int = Field(foreign_key="posts.id", primary_key=True)
    tag_id: int = Field(foreign_key="tags.id", primary_key=True)


class Tag(SQLModel, table=True):
    __tablename__ = "tags"

    id: int | None = Field(default=None, primary_key=True)
    name: str


class Post(SQLModel, table=True):
    __tablename__ = "posts"

    id: int | None = Field(default=None, primary_key=True)
    author_id: int = Field(foreign_key="users.id")
    title: str
    slug: str
    body: str
    status: str
    publish_at: datetime | None = Field(default=None, sa_type=DateTime(timezone=True))
    like_count: int = 0
    version: int = 1
    meta: dict[str, Any] = Field(default_factory=dict, sa_column=Column("metadata", JSONB))
    created_at: datetime = _utc_column()
    updated_at: datetime = _utc_column()
    deleted_at: datetime | None = Field(default=None, sa_type=DateTime(timezone=True))

    author: User = Relationship()
    tags: list[Tag] = Relationship(
        link_model=PostTag, sa_relationship_kwargs={"order_by": "Tag.name"}
    )


class Comment(SQLModel, table=True):
    __tablename__ = "comments"

    id: uuid.UUID = Field(sa_column=Column(Uuid, primary_key=True))
    post_id: int = Field(foreign_key="posts.id")
    author_id: int = Field(foreign_key="users.id")
    parent_id: uuid.UUID | None = Field(
        default=None, sa_column=Column(Uuid, ForeignKey("comments.id"), nullable=True)
    )
    body: str
    created_at: datetime = _utc_column()
    deleted_at: datetime | None = Field(default=None, sa_type=DateTime(timezone=True))

    author: User = Relationship()


# --- response schemas ------------------------------------------------------------------------


class UserPublic(SQLModel):
    model_config = ConfigDict(from_attributes=True)  # type: ignore[assignment]

    id: int
    username: str
    display_name: str | None
    created_at: datetime


class PostPublic(SQLModel):
    model_config = ConfigDict(from_attributes=True)  # type: ignore[assignment]

    id: int
    slug: str
    title: str
    body: str
    status: str
    publish_at: datetime | None
    meta: dict[str, Any] = Field(serialization_alias="metadata")
    like_count: int
    version: int
    created_at: datetime
    updated_at: datetime
    author: UserPublic
    tags: list[str]
    bookmarked: bool = False  # anonymous readers: always false, as the service says

    @field_validator("tags", mode="before")
    @classmethod
    def _tag_names(cls, value: Any) -> Any:
        return [getattr(tag, "name", tag) for tag in value]


class CommentPublic(SQLModel):
    id: uuid.UUID
    post_id: int
    parent_id: uuid.UUID | None
    body: str | None
    author: UserPublic | None
    deleted: bool
    reply_count: int
    created_at: datetime


class Page(BaseModel, Generic[T]):
    items: list[T]
    next_cursor: str | None


# --- database ---------------------------------------------------------------------------------


@asynccontextmanager
async def lifespan(app: FastAPI) -> AsyncIterator[None]:
    url = os.environ["DATABASE_URL"]
    size = int(os.environ.get("DB_POOL_SIZE", "10"))
    engine: AsyncEngine = create_async_engine(
        url, pool_size=size, max_overflow=0, pool_pre_ping=True
    )
    app.state.sessionmaker = async_sessionmaker(engine, class_=AsyncSession, expire_on_commit=False)
    app.state.cursors = Cursors(os.environ.get("JWT_SECRET", ""))
    try:
        yield
    finally:
        await engine.dispose()


async def get_session(request: Request) -> AsyncIterator[AsyncSession]:
    async with request.app.state.sessionmaker() as session:
        yield session


def get_cursors(request: Request) -> Cursors:
    cursors: Cursors = request.app.state.cursors
    return cursors


SessionDep = Annotated[AsyncSession, Depends(get_session)]
CursorsDep = Annotated[Cursors, Depends(get_cursors)]
Limit = Annotated[int, Query(ge=1, le=100)]


def _visible() -> Any:
    return (col(Post.status) == "published", col(Post.deleted_at).is_(None))


def _listing(request: Request) -> str:
    return Cursors.listing(request.url.path, request.query_params.multi_items())


def _decode(cursors: Cursors, cursor: str | None, sort: str, listing: str) -> list[Any] | None:
    if cursor is None:
        return None
    try:
        return cursors.decode(cursor, sort, listing)
    except ValueError as error:
        raise HTTPException(status_code=400, detail=str(error)) from error


# --- endpoints --------------------------------------------------------------------------------

app = FastAPI(title="Inkwell, the guide's way", lifespan=lifespan)
writes.register(app, get_session, User, Post, PostPublic)


@app.get("/health/live")
async def live() -> dict[str, str]:
    return {"status": "ok"}


@app.get("/api/v1/posts/{post_id}", response_model=PostPublic)
async def get_post(post_id: int, session: SessionDep, response: Response) -> Post:
    statement = (
        select(Post)
        .where(col(Post.id) == post_id, *_visible())
        .options(joinedload(Post.author), selectinload(Post.tags))  # type: ignore[arg-type]
    )
    post = (await session.exec(statement)).first()
    if post is None:
        raise HTTPException(status_code=404, detail="No such post.")
    response.headers["ETag"] = f'"{post.id}-{post.version}"'
    return post


@app.get("/api/v1/posts", response_model=Page[PostPublic])
async def list_posts(
    request: Request,
    session: SessionDep,
    cursors: CursorsDep,
    limit: Limit = 20,
    cursor: str | None = None,
    author_id: int | None = None,
    sort: str = NEWEST,
    status: str = "published",
) -> dict[str, Any]:
    if sort not in (NEWEST, OLDEST) or status != "published":
        raise HTTPException(status_code=400, detail="published posts by created_at only")
    descending = sort == NEWEST
    statement = (
        select(Post).where(*_visible()).options(joinedload(Post.author), selectinload(Post.tags))  # type: ignore[arg-type]
    )
    if author_id is not None:
        statement = statement.where(col(Post.author_id) == author_id)
    after = _decode(cursors, cursor, sort, _listing(request))
    if after is not None:
        key = tuple_(col(Post.created_at), col(Post.id))
        statement = statement.where(key < tuple(after) if descending else key > tuple(after))
    if descending:
        statement = statement.order_by(col(Post.created_at).desc(), col(Post.id).desc())
    else:
        statement = statement.order_by(col(Post.created_at), col(Post.id))
    posts = (await session.exec(statement.limit(limit + 1))).all()
    next_cursor = None
    if len(posts) > limit:
        last = posts[limit - 1]
        next_cursor = cursors.encode(sort, [last.created_at, last.id], _listing(request))
    return {"items": posts[:limit], "next_cursor": next_cursor}


@app.get("/api/v1/posts/{post_id}/comments", response_model=Page[CommentPublic])
async def list_comments(
    request: Request,
    post_id: int,
    session: SessionDep,
    cursors: CursorsDep,
    limit: Limit = 20,
    cursor: str | None = None,
) -> Page[CommentPublic]:
    post = (await session.exec(select(Post).where(col(Post.id) == post_id, *_visible()))).first()
    if post is None:
        raise HTTPException(status_code=404, detail="No such post.")
    reply = aliased(Comment)
    has_replies = select(reply.id).where(col(reply.parent_id) == col(Comment.id)).exists()
    statement = (
        select(Comment)
        .options(joinedload(Comment.author))  # type: ignore[arg-type]
        .where(col(Comment.post_id) == post_id, col(Comment.parent_id).is_(None))
        .where(col(Comment.deleted_at).is_(None) | has_replies)
        .order_by(col(Comment.id))
        .limit(limit + 1)
    )
    after = _decode(cursors, cursor, COMMENTS, _listing(request))
    if after is not None:
        statement = statement.where(col(Comment.id) > after[0])
    comments = (await session.exec(statement)).all()
    page = comments[:limit]
    counts = await _reply_counts(session, [c.id for c in page])
    items = [
        CommentPublic(
            id=c.id,
            post_id=c.post_id,
            parent_id=c.parent_id,
            body=None if c.deleted_at else c.body,
            author=None if c.deleted_at else UserPublic.model_validate(c.author),
            deleted=c.deleted_at is not None,
            reply_count=counts.get(c.id, 0),
            created_at=c.created_at,
        )
        for c in page
    ]
    next_cursor = (
        cursors.encode(COMMENTS, [page[-1].id], _listing(request))
        if len(comments) > limit
        else None
    )
    return Page[CommentPublic](items=items, next_cursor=next_cursor)


async def _reply_counts(session: AsyncSession, ids: list[uuid.UUID]) -> dict[uuid.UUID, int]:
    if not ids:
        return {}
    reply, nested = aliased(Comment), aliased(Comment)
    nested_exists = select(nested.id).where(col(nested.parent_id) == col(reply.id)).exists()
    statement = (
        select(col(reply.parent_id), func.count())
        .where(col(reply.parent_id).in_(ids))
        .where(col(reply.deleted_at).is_(None) | nested_exists)
        .group_by(col(reply.parent_id))
    )
    rows = (await session.exec(statement)).all()
    return {parent: count for parent, count in rows if parent is not None}
