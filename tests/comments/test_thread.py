"""Comment threads through the self-referential `replies` relationship; `reply_count`
(column_property) and `deleted` (hybrid) computed with the row."""

from typing import Any

import pytest
from httpx import AsyncClient
from sqlalchemy.exc import InvalidRequestError
from sqlalchemy.ext.asyncio import async_sessionmaker
from sqlmodel import col, select
from sqlmodel.ext.asyncio.session import AsyncSession

from service.comments.models import Comment
from tests.support.accounts import AccountFactory
from tests.support.api import API, create_comment, create_post, problem
from tests.support.statements import StatementCounter


def _shape(node: dict[str, Any]) -> list[Any]:
    return [node["reply_count"], [_shape(child) for child in node["replies"]]]


async def test_a_thread_nests_replies_as_deep_as_asked(
    client: AsyncClient, make_account: AccountFactory
) -> None:
    author = await make_account()
    post = await create_post(client, author)
    root = (await create_comment(client, author, post["id"])).json()["id"]
    replies = [await create_comment(client, author, post["id"], parent=root) for _ in range(2)]
    first, second = (reply.json()["id"] for reply in replies)
    deep = (await create_comment(client, author, post["id"], parent=first)).json()["id"]
    await create_comment(client, author, post["id"], parent=deep)
    # A deleted reply without replies vanishes; one that holds replies stays, as deleted.
    assert (await client.delete(f"{API}/comments/{second}", headers=author.headers)).is_success
    assert (await client.delete(f"{API}/comments/{first}", headers=author.headers)).is_success

    thread = (await client.get(f"{API}/comments/{root}/thread", params={"depth": 3})).json()
    assert _shape(thread) == [1, [[1, [[1, [[0, []]]]]]]]
    kept = thread["replies"][0]
    assert (kept["id"], kept["deleted"], kept["body"], kept["author"]) == (first, True, None, None)
    shallow = (await client.get(f"{API}/comments/{root}/thread", params={"depth": 1})).json()
    assert _shape(shallow) == [1, [[1, []]]]
    problem(await client.get(f"{API}/comments/{second}/thread"), 404)
    problem(await client.get(f"{API}/comments/{root}/thread", params={"depth": 6}), 422)


async def test_a_thread_costs_one_statement_per_level_whatever_its_width(
    client: AsyncClient, make_account: AccountFactory, statements: StatementCounter
) -> None:
    author = await make_account()
    post = await create_post(client, author)
    counts = []
    for width in (1, 6):
        root = (await create_comment(client, author, post["id"])).json()["id"]
        for _ in range(width):
            child = (await create_comment(client, author, post["id"], parent=root)).json()["id"]
            await create_comment(client, author, post["id"], parent=child)
        statements.count = 0
        response = await client.get(f"{API}/comments/{root}/thread", params={"depth": 2})
        assert response.status_code == 200
        assert len(response.json()["replies"]) == width
        counts.append(statements.count)
    # The comment (+ author JOIN, + reply_count), one SELECT ... IN per level, the post check.
    assert counts == [4, 4]


async def test_computed_fields_are_sql_expressions_too(
    client: AsyncClient,
    make_account: AccountFactory,
    sessionmaker: async_sessionmaker[AsyncSession],
) -> None:
    """`Comment.deleted` filters in SQL; `reply_count` is loaded only when asked for."""
    author = await make_account()
    post = await create_post(client, author)
    root = (await create_comment(client, author, post["id"])).json()["id"]
    await create_comment(client, author, post["id"], parent=root)
    async with sessionmaker() as session:
        live = select(col(Comment.id)).where(
            col(Comment.post_id) == post["id"],
            ~Comment.deleted,  # type: ignore[arg-type]
        )
        assert len((await session.exec(live)).all()) == 2
        comment = (
            await session.exec(
                select(Comment).where(
                    col(Comment.parent_id).is_(None), col(Comment.post_id) == post["id"]
                )
            )
        ).one()
        assert comment.deleted is False
        with pytest.raises(InvalidRequestError, match="raiseload"):
            _ = comment.reply_count  # deferred + raiseload: never an implicit query
