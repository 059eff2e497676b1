"""API3: no mass assignment, bounded strings everywhere, no excessive data exposure."""

from collections.abc import Awaitable, Callable, Iterator
from typing import Any

import pytest
from httpx import AsyncClient

from service.kit.schemas import RequestModel
from service.main import create_app
from tests.support.accounts import PASSWORD, AccountFactory
from tests.support.problems import assert_problem
from tests.support.settings import make_settings
from tests.support.snapshots import Snapshot

API = "/api/v1"
PROTECTED = {
    "id": 424242,
    "author_id": 1,
    "user_id": 1,
    "version": 99,
    "like_count": 1000,
    "created_at": "2001-01-01T00:00:00Z",
    "updated_at": "2001-01-01T00:00:00Z",
    "deleted_at": "2001-01-01T00:00:00Z",
    "password_hash": "$argon2id$forged",
    "token_version": 7,
}


def _openapi() -> dict[str, Any]:
    return create_app(make_settings("sqlite+aiosqlite://")).openapi()


def _resolve(schema: dict[str, Any], components: dict[str, Any]) -> dict[str, Any]:
    while "$ref" in schema:
        schema = components[schema["$ref"].rsplit("/", 1)[-1]]
    return schema


def _request_schemas(spec: dict[str, Any]) -> Iterator[tuple[str, str, dict[str, Any]]]:
    for path, item in spec["paths"].items():
        for method, operation in item.items():
            for media, content in operation.get("requestBody", {}).get("content", {}).items():
                yield f"{method.upper()} {path}", media, content["schema"]


def _walk(
    schema: dict[str, Any], components: dict[str, Any], where: str, seen: set[str]
) -> Iterator[tuple[str, dict[str, Any]]]:
    """Every (location, sub-schema) reachable from `schema`, following $refs once."""
    if "$ref" in schema:
        name = schema["$ref"].rsplit("/", 1)[-1]
        if name in seen:
            return
        seen.add(name)
        schema = components[name]
        where = name
    yield where, schema
    for key in ("anyOf", "oneOf", "allOf"):
        for index, option in enumerate(schema.get(key, [])):
            yield from _walk(option, components, f"{where}[{index}]", seen)
    for name, prop in schema.get("properties", {}).items():
        yield from _walk(prop, components, f"{where}.{name}", seen)
    if isinstance(schema.get("items"), dict):
        yield from _walk(schema["items"], components, f"{where}[]", seen)
    if isinstance(schema.get("additionalProperties"), dict):
        yield from _walk(schema["additionalProperties"], components, f"{where}{{}}", seen)


def test_every_json_request_body_forbids_unknown_fields() -> None:
    spec = _openapi()
    components = spec["components"]["schemas"]
    checked = 0
    for operation, media, schema in _request_schemas(spec):
        if media != "application/json":
            continue  # OAuth2 password form: fixed fields, nothing to assign
        for where, sub in _walk(schema, components, operation, set()):
            if sub.get("type") == "object" and "properties" in sub:
                assert sub.get("additionalProperties") is False, f"{where} accepts unknown fields"
                checked += 1
    assert checked >= 3


def test_every_request_model_class_forbids_unknown_fields() -> None:
    create_app(make_settings("sqlite+aiosqlite://"))  # imports every router and schema

    def subclasses(cls: type[RequestModel]) -> Iterator[type[RequestModel]]:
        for sub in cls.__subclasses__():
            yield sub
            yield from subclasses(sub)

    models = list(subclasses(RequestModel))
    assert len(models) >= 4
    for model in models:
        assert model.model_config.get("extra") == "forbid", model


def _unbounded(schema: dict[str, Any]) -> str | None:
    kind = schema.get("type")
    if kind == "string" and not (
        "maxLength" in schema or "enum" in schema or "const" in schema or "format" in schema
    ):
        return "string without maxLength"
    if kind == "array" and "maxItems" not in schema:
        return "array without maxItems"
    if kind == "integer" and "maximum" not in schema and "enum" not in schema:
        # An unbounded integer overflows BIGINT (PostgreSQL) / INTEGER (SQLite): a 500.
        return "integer without maximum"
    return None


# Free-form JSON whose size and depth a validator bounds (see test_resource_limits).
FREE_FORM = {"PostCreate.metadata", "PostUpdate.metadata"}


def test_every_input_string_array_and_integer_is_bounded() -> None:
    spec = _openapi()
    components = spec["components"]["schemas"]
    problems = []
    for operation, _, schema in _request_schemas(spec):
        for where, sub in _walk(schema, components, operation, set()):
            if any(where.startswith(f) for f in FREE_FORM):
                continue
            if reason := _unbounded(sub):
                problems.append(f"{where}: {reason}")
    for path, item in spec["paths"].items():
        for method, operation in item.items():
            for parameter in operation.get("parameters", []):
                options = parameter["schema"].get("anyOf", [parameter["schema"]])
                for option in options:
                    if reason := _unbounded(option):
                        where = f"{method.upper()} {path} {parameter['in']} {parameter['name']}"
                        problems.append(f"{where}: {reason}")
    assert not problems, "unbounded inputs:\n" + "\n".join(problems)


@pytest.mark.parametrize("field", sorted(PROTECTED))
async def test_protected_fields_cannot_be_set_on_create(
    client: AsyncClient,
    make_account: AccountFactory,
    snapshot: Callable[[], Awaitable[Snapshot]],
    field: str,
) -> None:
    account = await make_account()
    before = await snapshot()
    post = {"title": "t", "body": "b", field: PROTECTED[field]}
    assert_problem(await client.post(f"{API}/posts", json=post, headers=account.headers), 422)
    user = {"username": "massassign", "email": "m@example.com", "password": PASSWORD}
    assert_problem(await client.post(f"{API}/users", json={**user, field: PROTECTED[field]}), 422)
    assert await snapshot() == before


@pytest.mark.parametrize("field", sorted(PROTECTED))
async def test_protected_fields_cannot_be_set_on_update(
    client: AsyncClient,
    make_account: AccountFactory,
    snapshot: Callable[[], Awaitable[Snapshot]],
    field: str,
) -> None:
    account = await make_account()
    created = await client.post(
        f"{API}/posts", json={"title": "t", "body": "b"}, headers=account.headers
    )
    post_id = created.json()["id"]
    before = await snapshot()
    change = {"title": "changed", field: PROTECTED[field]}
    response = await client.patch(f"{API}/posts/{post_id}", json=change, headers=account.headers)
    assert_problem(response, 422)
    response = await client.patch(
        f"{API}/users/me",
        json={"display_name": "x", field: PROTECTED[field]},
        headers=account.headers,
    )
    assert_problem(response, 422)
    assert await snapshot() == before


async def test_422_never_echoes_submitted_values(
    client: AsyncClient, make_account: AccountFactory
) -> None:
    marker = "Sekr3t-P4ssw0rd-MARKER"
    account = await make_account()
    attempts: list[tuple[str, str, dict[str, Any]]] = [
        ("POST", "/users", {"json": {"username": marker, "email": marker, "password": marker * 9}}),
        ("PATCH", "/users/me", {"json": {"password": marker * 10}}),
        ("PATCH", "/users/me", {"json": {"password": marker[:4]}}),
        ("PATCH", "/users/me", {"json": {"email": marker}}),
        ("POST", "/posts", {"json": {"title": marker * 20, "body": ""}}),
        ("POST", "/posts", {"json": {"title": "t", "body": "b", "status": marker}}),
        ("POST", "/auth/token", {"data": {"username": marker, "password": marker * 10}}),
        ("GET", "/posts", {"params": {"limit": marker, "status": marker}}),
    ]
    # (The name of an unknown field is reported in `loc`: it is the client's own key, not a
    # value, and the client needs it to fix the request.)
    for method, path, options in attempts:
        response = await client.request(method, f"{API}{path}", headers=account.headers, **options)
        body = assert_problem(response, 422)
        assert marker[:4] not in response.text, response.text
        assert all(set(error) == {"loc", "msg"} for error in body["errors"])


async def test_public_user_views_never_expose_email_or_hash(
    client: AsyncClient, make_account: AccountFactory
) -> None:
    account = await make_account()
    await client.post(
        f"{API}/posts",
        json={"title": "t", "body": "b", "status": "published"},
        headers=account.headers,
    )
    responses = [
        await client.get(f"{API}/users/{account.id}"),
        await client.get(f"{API}/users"),
        await client.get(f"{API}/posts"),
    ]
    for response in responses:
        assert response.status_code == 200
        assert account.user.email not in response.text
        assert "password" not in response.text
        assert "argon2" not in response.text
        assert "token_version" not in response.text


@pytest.mark.parametrize(
    "post",
    [
        {"title": "nul\x00", "body": "b"},
        {"title": "t", "body": "nul \x00 inside"},
        {"title": "t", "body": "b", "metadata": {"key\x00": 1}},
        {"title": "t", "body": "b", "metadata": {"k": ["deep", {"x": "v\x00"}]}},
    ],
)
async def test_text_no_database_can_store_is_422(
    client: AsyncClient, make_account: AccountFactory, post: dict[str, Any]
) -> None:
    account = await make_account()
    response = await client.post(f"{API}/posts", json=post, headers=account.headers)
    assert_problem(response, 422)
    lone_surrogate = b'{"title": "\\ud800", "body": "b"}'
    headers = {**account.headers, "Content-Type": "application/json"}
    response = await client.post(f"{API}/posts", content=lone_surrogate, headers=headers)
    assert_problem(response, 422)


@pytest.mark.parametrize("field", sorted(PROTECTED))
async def test_protected_fields_cannot_be_set_on_domain_writes(
    client: AsyncClient,
    make_account: AccountFactory,
    snapshot: Callable[[], Awaitable[Snapshot]],
    field: str,
) -> None:
    account = await make_account()
    created = await client.post(
        f"{API}/posts",
        json={"title": "t", "body": "b", "status": "published"},
        headers=account.headers,
    )
    post_id = created.json()["id"]
    before = await snapshot()
    value = PROTECTED[field]
    writes = [
        ("POST", f"/posts/{post_id}/comments", {"body": "c", field: value}),
        ("PUT", "/users/me/profile", {"bio": "b", field: value}),
        ("POST", "/posts/bulk", {"items": [{"title": "t", "body": "b"}], field: value}),
    ]
    for method, path, body in writes:
        response = await client.request(method, f"{API}{path}", json=body, headers=account.headers)
        assert_problem(response, 422)
    # Inside a bulk item the field is refused for that item only; nothing is created from it.
    bulk = await client.post(
        f"{API}/posts/bulk",
        json={"items": [{"title": "t", "body": "b", field: value}]},
        headers=account.headers,
    )
    assert bulk.status_code == 201, bulk.text
    assert bulk.json()["created"] == []
    assert [e["index"] for e in bulk.json()["errors"]] == [0]
    assert await snapshot() == before
