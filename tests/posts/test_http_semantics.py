"""Posts over HTTP: strong validators and `If-Match`, the ETag a write returns, one version per
PATCH, explicit nulls refused (docs/http.md)."""

import pytest
from httpx import AsyncClient

from tests.support.accounts import AccountFactory
from tests.support.api import POSTS, create_post, problem


async def test_if_match_is_compared_strongly(
    client: AsyncClient, make_account: AccountFactory
) -> None:
    author = await make_account()
    post = await create_post(client, author)
    url = f"{POSTS}/{post['id']}"
    tag = (await client.get(url)).headers["etag"]
    assert tag.startswith('"')
    assert not tag.startswith("W/")
    for refused in (
        f"W/{tag}",  # weak: never matches If-Match
        f'"{post["id"]}-{post["version"]}"',  # the old `"id-version"` form
        '"nope"',
        "nope",
        f'W/{tag}, {tag[:-2]}"',
    ):
        response = await client.patch(
            url, json={"title": "x"}, headers=author.headers | {"If-Match": refused}
        )
        problem(response, 412)
    assert (await client.get(url)).headers["etag"] == tag  # nothing changed
    listed = await client.patch(
        url, json={"title": "y"}, headers=author.headers | {"If-Match": f'"other", {tag}'}
    )
    assert listed.status_code == 200, listed.text
    star = await client.patch(url, json={"title": "z"}, headers=author.headers | {"If-Match": "*"})
    assert star.status_code == 200, star.text


async def test_delete_takes_the_etag_a_get_returned(
    client: AsyncClient, make_account: AccountFactory
) -> None:
    author, fan = await make_account(), await make_account()
    post = await create_post(client, author)
    url = f"{POSTS}/{post['id']}"
    tag = (await client.get(url)).headers["etag"]
    assert (await client.put(f"{url}/like", headers=fan.headers)).status_code == 200
    problem(await client.delete(url, headers=author.headers | {"If-Match": tag}), 412)
    fresh = (await client.get(url)).headers["etag"]
    assert fresh != tag  # a like changes the representation, so its tag
    deleted = await client.delete(url, headers=author.headers | {"If-Match": fresh})
    assert deleted.status_code == 204, deleted.text


async def test_a_write_returns_the_etag_of_the_next_get(
    client: AsyncClient, make_account: AccountFactory
) -> None:
    """Byte for byte, including a document whose keys the database reorders (JSONB sorts them)."""
    author = await make_account()
    metadata = {"zz": 1, "a": {"yy": True, "b": [1.5, "x"]}, "mm": None}
    created = await client.post(
        POSTS,
        json={"title": "T", "body": "B", "status": "published", "metadata": metadata},
        headers=author.headers,
    )
    url = f"{POSTS}/{created.json()['id']}"
    read = await client.get(url)
    assert created.headers["etag"] == read.headers["etag"]
    assert created.content == read.content
    patched = await client.patch(
        url,
        json={"metadata": {"zzz": 2, "b": 1}, "tags": ["Zeta", "alpha"]},
        headers=author.headers | {"If-Match": read.headers["etag"]},
    )
    assert patched.status_code == 200, patched.text
    again = await client.get(url)
    assert patched.headers["etag"] == again.headers["etag"] != read.headers["etag"]
    assert patched.content == again.content
    chained = await client.patch(
        url, json={"body": "B2"}, headers=author.headers | {"If-Match": patched.headers["etag"]}
    )
    assert chained.status_code == 200, chained.text
    restored_url = f"{url}/restore"
    assert (await client.delete(url, headers=author.headers)).status_code == 204
    restored = await client.post(restored_url, headers=author.headers)
    assert restored.headers["etag"] == (await client.get(url)).headers["etag"]


async def test_a_patch_of_title_and_tags_bumps_the_version_once(
    client: AsyncClient, make_account: AccountFactory
) -> None:
    author = await make_account()
    post = await create_post(client, author, tags=["one"])
    url = f"{POSTS}/{post['id']}"
    both = await client.patch(
        url, json={"title": "New", "tags": ["two", "three"]}, headers=author.headers
    )
    assert both.status_code == 200, both.text
    assert both.json()["version"] == post["version"] + 1
    assert both.json()["tags"] == ["three", "two"]
    tags_only = await client.patch(url, json={"tags": ["four"]}, headers=author.headers)
    assert tags_only.json()["version"] == post["version"] + 2
    everything = {"title": "T", "body": "B", "status": "draft", "metadata": {"k": "v"}, "tags": []}
    all_fields = await client.patch(url, json=everything, headers=author.headers)
    assert all_fields.json()["version"] == post["version"] + 3
    assert (await client.get(url, headers=author.headers)).json()["version"] == post["version"] + 3


@pytest.mark.parametrize("field", ["title", "body", "status", "metadata", "tags"])
async def test_an_explicit_null_is_a_422_naming_the_field(
    client: AsyncClient, make_account: AccountFactory, field: str
) -> None:
    author = await make_account()
    post = await create_post(client, author)
    url = f"{POSTS}/{post['id']}"
    response = await client.patch(url, json={field: None}, headers=author.headers)
    body = problem(response, 422)
    assert [error["loc"] for error in body["errors"]] == [["body", field]]
    assert "null" in body["errors"][0]["msg"]
    unchanged = (await client.get(url)).json()
    assert unchanged["version"] == post["version"]
    # Omitting the field is the way to leave it as it is.
    assert (await client.patch(url, json={}, headers=author.headers)).status_code == 200


def test_the_schema_of_a_patch_does_not_offer_null() -> None:
    from service.posts.schemas import PostUpdate

    properties = PostUpdate.model_json_schema()["properties"]
    for name, schema in properties.items():
        assert "anyOf" not in schema, name
        assert "default" not in schema, name
