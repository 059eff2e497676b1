"""The OpenAPI document is complete enough for a client generator, and stays so.

Every operation: a summary and a description of its own, every error status it can answer as
`application/problem+json` with the `Problem` schema and an example of that very status (no
`4XX`/`5XX` ranges), the headers those responses carry, request body examples that are valid,
a padlock only where a token is needed. What is not an operation (the websocket feed,
`/metrics`) is described in the document's description.
"""

from collections.abc import Callable, Iterator
from functools import cache
from typing import Any

from jsonschema_rs import Draft202012Validator, ValidationError  # schemathesis' validator

from service.main import create_app
from tests.support.settings import make_settings

PROBLEM_JSON = "application/problem+json"
READ_METHODS = {"get", "head"}
TOKEN_READS = {
    "/api/v1/users/me",
    "/api/v1/users/me/notifications",
    "/api/v1/users/me/notifications/unread_count",
    "/api/v1/posts/export",
    "/api/v1/moderation/log",
    "/api/v1/users/me/webhooks",
    "/api/v1/users/me/webhooks/{endpoint_id}",
    "/api/v1/users/me/webhooks/{endpoint_id}/deliveries",
    "/api/v1/users/me/feed",
    "/api/v1/users/me/bookmarks",
    "/api/v1/posts/{post_id}/revisions",
    "/api/v1/posts/{post_id}/revisions/{number}",
}
"""The reads that need a token; every other read is public (no padlock)."""
PUBLIC_WRITES = {("post", "/api/v1/users"), ("post", "/api/v1/auth/token")}
SCHEME = "OAuth2PasswordBearer"


@cache
def spec() -> dict[str, Any]:
    document: dict[str, Any] = create_app(make_settings("sqlite+aiosqlite://")).openapi()
    return document


def operations() -> Iterator[tuple[str, str, dict[str, Any]]]:
    for path, item in spec()["paths"].items():
        for method, operation in item.items():
            yield method, path, operation


Check = Callable[[str, str, dict[str, Any]], None]


def for_each_operation(check: Check) -> None:
    """Run `check` on every operation; report every one that fails, not just the first."""
    failures = []
    for method, path, operation in operations():
        try:
            check(method, path, operation)
        except (AssertionError, KeyError, ValidationError) as error:
            failures.append(f"{method.upper()} {path}: {type(error).__name__}: {error}")
    assert not failures, "\n".join(failures)


def validator(schema: dict[str, Any]) -> Draft202012Validator:
    """A validator of `schema`, its `#/components/...` references resolved in the document."""
    return Draft202012Validator({**schema, "components": spec()["components"]})


def test_there_are_operations_to_check() -> None:
    assert len(list(operations())) >= 40


def _every_operation_has_a_summary_and_a_description(
    method: str, path: str, operation: dict[str, Any]
) -> None:
    generated = operation["operationId"].split("_api_")[0].replace("_", " ").title()
    assert operation.get("summary"), "summary"
    assert operation["summary"] != generated, "a summary of its own, not the function's name"
    assert len(operation.get("description", "")) >= 20, "description"
    assert operation.get("tags"), "tag"


def _every_error_is_a_problem_with_an_example_of_its_status(
    method: str, path: str, operation: dict[str, Any]
) -> None:
    responses: dict[str, Any] = operation["responses"]
    assert all(status.isdigit() for status in responses), "status ranges or default"
    assert "500" in responses
    problem = validator({"$ref": "#/components/schemas/Problem"})
    errors = {s: r for s, r in responses.items() if int(s) >= 400}
    if path == "/health/ready":
        errors.pop("503")  # the readiness report, not a problem
    for status, response in errors.items():
        content = response["content"]
        assert list(content) == [PROBLEM_JSON], status
        assert content[PROBLEM_JSON]["schema"] == {"$ref": "#/components/schemas/Problem"}
        examples = content[PROBLEM_JSON]["examples"]
        assert examples, status
        for example in examples.values():
            problem.validate(example["value"])
            assert example["value"]["status"] == int(status)
            assert example["summary"] == example["value"]["detail"]


def _error_statuses_follow_from_what_the_operation_takes(
    method: str, path: str, operation: dict[str, Any]
) -> None:
    responses = operation["responses"]
    parameters = operation.get("parameters", [])
    body = operation.get("requestBody")
    if parameters or body:
        examples = responses["422"]["content"][PROBLEM_JSON]["examples"].values()
        assert any(example["value"].get("errors") for example in examples)
    if body:
        assert "413" in responses
    if any(p["in"] == "path" for p in parameters):
        assert "404" in responses
    if any(p["in"] == "header" and p["name"].lower() == "if-match" for p in parameters):
        assert "412" in responses
    if path.startswith("/api/"):
        assert "503" in responses
    for status, header in (("429", "Retry-After"), ("503", "Retry-After")):
        if status in responses and path != "/health/ready":
            assert responses[status]["headers"][header]["required"] is True
    if "401" in responses:
        assert "WWW-Authenticate" in responses["401"]["headers"]


def _a_padlock_only_where_a_token_is_needed(
    method: str, path: str, operation: dict[str, Any]
) -> None:
    security = operation.get("security")
    needs_token = (
        path in TOKEN_READS
        if method in READ_METHODS
        else (method, path) not in PUBLIC_WRITES and path.startswith("/api/")
    )
    if needs_token:
        assert security == [{SCHEME: []}]
        assert "401" in operation["responses"]
    elif security is not None:
        assert sorted(security, key=len) == [{}, {SCHEME: []}], "a token is optional here"
        assert method in READ_METHODS


def test_every_operation_has_a_summary_and_a_description() -> None:
    for_each_operation(_every_operation_has_a_summary_and_a_description)


def test_every_error_is_a_problem_with_an_example_of_its_status() -> None:
    for_each_operation(_every_error_is_a_problem_with_an_example_of_its_status)


def test_error_statuses_follow_from_what_the_operation_takes() -> None:
    for_each_operation(_error_statuses_follow_from_what_the_operation_takes)


def test_a_padlock_only_where_a_token_is_needed() -> None:
    for_each_operation(_a_padlock_only_where_a_token_is_needed)


def test_every_request_body_has_valid_examples() -> None:
    for_each_operation(_every_request_body_has_valid_examples)


def test_drafts_make_post_reads_optionally_authenticated() -> None:
    paths = spec()["paths"]
    for path in ("/api/v1/posts", "/api/v1/posts/{post_id}"):
        # any one requirement will do (OpenAPI): the empty one makes the token optional
        assert sorted(paths[path]["get"]["security"], key=len) == [{}, {SCHEME: []}]
    assert "security" not in paths["/api/v1/users/{user_id}"]["get"]
    assert "security" not in paths["/api/v1/posts/search"]["get"]


def _success(operation: dict[str, Any]) -> dict[str, Any]:
    return next(r for s, r in operation["responses"].items() if s.startswith("2"))


def test_response_headers_are_declared_where_they_are_sent() -> None:
    paths = spec()["paths"]
    created = [
        paths["/api/v1/users"]["post"],
        paths["/api/v1/posts"]["post"],
        paths["/api/v1/posts/{post_id}/comments"]["post"],
    ]
    for operation in created:
        assert operation["responses"]["201"]["headers"]["Location"]["required"] is True
    for operation in (
        paths["/api/v1/posts"]["post"],
        paths["/api/v1/posts/{post_id}"]["get"],
        paths["/api/v1/posts/{post_id}"]["patch"],
    ):
        assert _success(operation)["headers"]["ETag"]["required"] is True
    for method, path, operation in operations():
        headers = _success(operation).get("headers", {})
        if "429" in operation["responses"] and path != "/api/v1/auth/token":
            assert {"RateLimit-Limit", "RateLimit-Remaining", "RateLimit-Reset"} <= set(headers)
        if any(p["name"] == "Idempotency-Key" for p in operation.get("parameters", [])):
            assert "Idempotent-Replayed" in headers, path
        if method not in READ_METHODS and path.startswith("/api/") and path != "/api/v1/auth/token":
            assert "X-Consistency-Token" in headers, (method, path)


def _every_request_body_has_valid_examples(
    method: str, path: str, operation: dict[str, Any]
) -> None:
    for media, content in operation.get("requestBody", {}).get("content", {}).items():
        examples = content.get("examples", {})
        assert examples, media
        check = validator(content["schema"])
        for name, example in examples.items():
            assert example["summary"], name
            check.validate(example["value"])


def test_a_created_resource_links_to_what_can_be_done_with_it() -> None:
    """The links schemathesis' stateful phase follows (service/kit/http/openapi.py)."""
    created = spec()["paths"]["/api/v1/posts"]["post"]["responses"]["201"]
    targets = {link["operationId"].split("_api_")[0] for link in created["links"].values()}
    assert {"read_post", "update_post", "delete_post", "like_post"} <= targets
    for link in created["links"].values():
        assert link["parameters"] == {"post_id": "$response.body#/id"}


def test_login_is_under_auth_and_every_tag_is_described() -> None:
    document = spec()
    assert document["paths"]["/api/v1/auth/token"]["post"]["tags"] == ["auth"]
    described = {tag["name"] for tag in document["tags"] if tag.get("description")}
    used = {tag for _, _, operation in operations() for tag in operation["tags"]}
    assert used <= described


def test_integer_bounds_are_exact() -> None:
    """No `9.223372036854776e+18`: a rounded BIGINT bound that generators send as valid."""
    pending: list[Any] = [spec()]
    while pending:
        node = pending.pop()
        if isinstance(node, dict):
            if node.get("type") == "integer":
                for key in ("maximum", "minimum"):
                    assert not isinstance(node.get(key), float), node
            pending.extend(node.values())
        elif isinstance(node, list):
            pending.extend(node)


def test_the_websocket_feed_and_metrics_are_described() -> None:
    description = spec()["info"]["description"]
    for needle in ("/api/v1/ws/posts", "?after=", "event_id", '"gap"', "1013", "GET /metrics"):
        assert needle in description, needle
