"""The idiomatic writer: `POST /api/v1/posts` as ../shared/GUIDE.md teaches it.

`Depends(current_user)` reads the token's user with `session.get`; the post and its outbox row
are `add`ed, flushed and committed, then read back with its author and tags for the answer.
Registered on the idiomatic app by `register` (its models live there)."""

import os
import re
import unicodedata
from datetime import UTC, datetime
from typing import Annotated, Any

import jwt
from fastapi import Depends, FastAPI, HTTPException, Request
from sqlalchemy import Column, DateTime
from sqlalchemy.dialects.postgresql import JSONB
from sqlalchemy.orm import joinedload, selectinload
from sqlmodel import Field, SQLModel, select
from sqlmodel.ext.asyncio.session import AsyncSession


class OutboxEvent(SQLModel, table=True):
    __tablename__ = "outbox_events"

    id: int | None = Field(default=None, primary_key=True)
    topic: str
    payload: dict[str, Any] = Field(sa_column=Column(JSONB))
    state: str = "pending"
    attempts: int = 0
    run_after: datetime = Field(sa_type=DateTime(timezone=True))
    created_at: datetime = Field(sa_type=DateTime(timezone=True))


class PostCreate(SQLModel):
    title: str = Field(min_length=1, max_length=200)
    body: str
    status: str = "draft"
    meta: dict[str, Any] = Field(default_factory=dict, alias="metadata")


def slugify(title: str) -> str:
    ascii_title = unicodedata.normalize("NFKD", title).encode("ascii", "ignore").decode()
    return re.sub(r"[^a-z0-9]+", "-", ascii_title.lower()).strip("-")[:212] or "post"


def register(app: FastAPI, session_dep: Any, user_model: Any, post_model: Any, public: Any) -> None:
    """Adds the write route to the idiomatic app (its session dependency and models)."""
    SessionDep = Annotated[AsyncSession, Depends(session_dep)]

    async def current_user(request: Request, session: SessionDep) -> Any:
        scheme, _, token = request.headers.get("authorization", "").partition(" ")
        try:
            claims = jwt.decode(
                token,
                os.environ.get("JWT_SECRET", ""),
                algorithms=["HS256"],
                audience="inkwell-api",
                issuer="inkwell",
            )
        except jwt.PyJWTError as error:
            raise HTTPException(status_code=401, detail="invalid token") from error
        user = await session.get(user_model, int(claims["sub"]))
        if scheme.lower() != "bearer" or user is None or user.token_version != claims["ver"]:
            raise HTTPException(status_code=401, detail="invalid token")
        return user

    CurrentUser = Annotated[user_model, Depends(current_user)]

    @app.post("/api/v1/posts", response_model=public, status_code=201)
    async def create_post(data: PostCreate, session: SessionDep, user: CurrentUser) -> Any:
        now = datetime.now(UTC)
        post = post_model(
            author_id=user.id,
            title=data.title,
            slug=slugify(data.title),
            body=data.body,
            status=data.status,
            meta=data.meta,
            created_at=now,
            updated_at=now,
        )
        session.add(post)
        await session.flush()
        payload = {"post_id": post.id, "author_id": user.id}
        session.add(
            OutboxEvent(topic="post.published", payload=payload, run_after=now, created_at=now)
        )
        await session.commit()
        statement = (
            select(post_model)
            .options(joinedload(post_model.author), selectinload(post_model.tags))
            .where(post_model.id == post.id)
            .execution_options(populate_existing=True)
        )
        return (await session.exec(statement)).one()
