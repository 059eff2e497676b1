"""What a route can answer, declared where it is decided, read when the route is built.

A dependency that can refuse declares it on itself (`@declares(...)`), so every route using it
documents the error without a word of its own; what only a service knows goes in the route's
`responses=error_responses(...)`, success headers in `success_headers(...)`."""

import json
from collections.abc import Callable, Iterable, Mapping
from dataclasses import dataclass, field
from typing import Any, Literal, TypeVar

from service.kit.errors import PROBLEM_JSON, AppError, render

F = TypeVar("F", bound=Callable[..., Any])
Security = Literal["required", "optional"]

_ATTRIBUTE = "__inkwell_answers__"
SAFE_METHODS = frozenset({"GET", "HEAD", "OPTIONS"})


@dataclass(frozen=True)
class ResponseHeader:
    """A response header as OpenAPI documents it (`required`: on every such response)."""

    name: str
    description: str
    schema: Mapping[str, Any] = field(default_factory=lambda: {"type": "string"})
    required: bool = False

    def document(self) -> dict[str, Any]:
        return {"description": self.description, "required": self.required, "schema": self.schema}


_SECONDS = {"type": "integer", "minimum": 0}
ETAG = ResponseHeader("ETag", "The version of the representation (for `If-Match`).", required=True)
LOCATION = ResponseHeader("Location", "The URL of the created resource.", required=True)
RETRY_AFTER = ResponseHeader(
    "Retry-After", "Seconds to wait before trying again.", _SECONDS, required=True
)
WWW_AUTHENTICATE = ResponseHeader(
    "WWW-Authenticate", "The scheme to authenticate with: `Bearer`.", required=True
)
RATE_LIMIT = (
    ResponseHeader("RateLimit-Limit", "Requests allowed in the window.", _SECONDS),
    ResponseHeader("RateLimit-Remaining", "Requests left in the window.", _SECONDS),
    ResponseHeader("RateLimit-Reset", "Seconds until the window frees a request.", _SECONDS),
)
"""On every response of a rate-limited route while the limit is on (it can be switched off)."""

ALWAYS_SENT: Mapping[int, tuple[ResponseHeader, ...]] = {
    401: (WWW_AUTHENTICATE,),
    429: (RETRY_AFTER, *RATE_LIMIT),
    503: (RETRY_AFTER,),
}
"""Headers that go with an error status whatever raised it (see `Unauthorized`,
`TooManyRequests`, `ServiceUnavailable` in service/kit/errors.py)."""


@dataclass(frozen=True)
class Answers:
    """Errors a route may answer with (their detail is the example), headers its success
    response may carry, and whether it needs a token."""

    errors: tuple[AppError, ...] = ()
    headers: tuple[ResponseHeader, ...] = ()
    security: Security | None = None
    writes_only: bool = False
    """Only a request that may write meets these (not GET, HEAD or OPTIONS)."""

    def __or__(self, other: "Answers") -> "Answers":
        both = (self.security, other.security)
        security: Security | None = (
            "required" if "required" in both else (self.security or other.security)
        )
        return Answers(
            self.errors + other.errors,
            self.headers + tuple(h for h in other.headers if h not in self.headers),
            security,
            self.writes_only and other.writes_only,
        )


def declares(
    *errors: "AppError | Answers",
    headers: Iterable[ResponseHeader] = (),
    security: Security | None = None,
    writes_only: bool = False,
) -> Callable[[F], F]:
    """Declare on a dependency (or an endpoint) what it may answer; every route that depends on
    it, however deep, documents it (`Answers` among the errors are merged in). `security`:
    "required" (no token, no access) or "optional" (a token changes what is shown).
    `writes_only`: only for methods that may write (not GET, HEAD)."""
    declared = Answers(
        tuple(e for e in errors if isinstance(e, AppError)), tuple(headers), security, writes_only
    )
    for given in errors:
        if isinstance(given, Answers):
            declared = declared | given

    def mark(function: F) -> F:
        setattr(function, _ATTRIBUTE, declared)
        return function

    return mark


def declared_by(calls: Iterable[Callable[..., Any]], method: str) -> Answers:
    """What `calls` (a route's endpoint and providers) declared, for a request of `method`."""
    result = Answers()
    for call in calls:
        mark = getattr(call, _ATTRIBUTE, None)
        if isinstance(mark, Answers) and not (mark.writes_only and method in SAFE_METHODS):
            result = result | mark
    return result


def example_of(error: AppError) -> dict[str, Any]:
    """The problem+json body `error` is rendered as (service/kit/errors.py `render`)."""
    body: dict[str, Any] = json.loads(bytes(render(error).body))
    return body


def example_key(error: AppError) -> str:
    """A stable name for an example: the words of its detail ("no-such-post")."""
    words = "".join(c if c.isalnum() else " " for c in error.detail.lower()).split()
    return "-".join(words[:6]) or error.slug


def error_responses(*errors: AppError) -> dict[int | str, dict[str, Any]]:
    """For a route decorator's `responses=`: errors its service may raise, one example each.
    The generator adds the schema, the headers and the examples of its dependencies."""
    responses: dict[int | str, dict[str, Any]] = {}
    for error in errors:
        response = responses.setdefault(error.status, {"description": error.title})
        examples = response.setdefault("content", {}).setdefault(PROBLEM_JSON, {})
        examples.setdefault("examples", {})[example_key(error)] = {
            "summary": error.detail,
            "value": example_of(error),
        }
    return responses


def success_headers(status: int, *headers: ResponseHeader) -> dict[int | str, dict[str, Any]]:
    """For a route decorator's `responses=`: headers its `status` response carries."""
    return {status: {"headers": {h.name: h.document() for h in headers}}}


def body_examples(
    examples: Mapping[str, Any], *, media_type: str = "application/json"
) -> dict[str, Any]:
    """For a route decorator's `openapi_extra=`: named request body examples
    (`{"summary": value}`; the first is the one Swagger UI shows)."""
    named = {
        "-".join(summary.lower().split()[:4]): {"summary": summary, "value": value}
        for summary, value in examples.items()
    }
    return {"requestBody": {"content": {media_type: {"examples": named}}}}
