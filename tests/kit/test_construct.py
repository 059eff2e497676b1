"""The read models built by `construct` (posts and comments read paths) serialize exactly as
`model_validate` of the same values would."""

import uuid
from datetime import UTC, datetime
from typing import Any

import pytest
from pydantic import BaseModel

from service.comments import read_model as comment_rows
from service.comments.schemas import CommentPublic
from service.kit.schemas import ResponseModel
from service.posts import representation as post_rows
from service.posts.schemas import PostPublic
from service.users.schemas import UserPublic

WHEN = datetime(2026, 12, 1, 5, 0, tzinfo=UTC)
AUTHOR_ROW: dict[str, Any] = {
    "author_id": 7,
    "author_username": "ada",
    "author_display_name": None,
    "author_created_at": WHEN,
}
AUTHOR: dict[str, Any] = {"id": 7, "username": "ada", "display_name": None, "created_at": WHEN}
POST_ROW: dict[str, Any] = {
    "id": 1,
    "slug": "hello",
    "title": "Hello",
    "body": "text",
    "status": "published",  # the driver reads the enum column as text
    "meta": {"lang": "en", "n": [1, 2]},
    "like_count": 3,
    "version": 2,
    "created_at": WHEN,
    "updated_at": WHEN,
    "tags": ["a", "b"],  # as representation._tags leaves them: sorted by code point
    "bookmarked": False,
    "publish_at": None,
    **AUTHOR_ROW,
}
COMMENT_ROW: dict[str, Any] = {
    "id": uuid.uuid4(),
    "post_id": 1,
    "parent_id": None,
    "body": "hi",
    "deleted": False,
    "reply_count": 2,
    "created_at": WHEN,
    **AUTHOR_ROW,
}


def _same(built: BaseModel, expected: BaseModel) -> None:
    assert built.model_dump_json(by_alias=True) == expected.model_dump_json(by_alias=True)
    assert built.model_fields_set == expected.model_fields_set


def test_post_rows_build_as_validated() -> None:
    fields = {k: v for k, v in POST_ROW.items() if not k.startswith("author_")}
    expected = PostPublic.model_validate({**fields, "author": AUTHOR})
    _same(post_rows.build(POST_ROW), expected)


@pytest.mark.parametrize("deleted", [False, True])
def test_comment_rows_build_as_validated(deleted: bool) -> None:
    row = {**COMMENT_ROW, "deleted": deleted}
    fields = {k: v for k, v in row.items() if not k.startswith("author_")}
    shown = {"body": None, "author": None} if deleted else {"author": AUTHOR}
    expected = CommentPublic.model_validate({**fields, **shown})
    _same(comment_rows.build(row), expected)


@pytest.mark.parametrize("model", [PostPublic, UserPublic, CommentPublic])
def test_constructed_models_have_no_private_state(model: type[ResponseModel]) -> None:
    """What `construct` skips: private attributes and a post-init hook."""
    assert not model.__private_attributes__
    assert model.model_post_init is ResponseModel.model_post_init
