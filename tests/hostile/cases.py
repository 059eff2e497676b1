"""The hostile-input table: every field and parameter, times NUL, lone surrogates, NaN/Infinity,
deep nesting, overlong text, out-of-range numbers and dates, confusables, forged cursor and token
contents. Values are raw (JSON text, percent-encoded query and form text) so that what the
server receives is exactly what a hostile client can send."""

import json
import uuid
from collections.abc import Iterator
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from typing import Any
from urllib.parse import parse_qsl

import jwt

from service.kit.pagination import CursorCodec, SortKey, listing_digest
from tests.support.settings import TEST_JWT_SECRET


@dataclass(frozen=True)
class Target:
    """What the cases act on (ids made by the test's setup)."""

    post: int
    draft: int
    user: int
    comment: str
    headers: dict[str, str]
    spare: dict[str, str]
    """A second account's headers, for cases that may revoke its token (password changes)."""


@dataclass(frozen=True)
class Case:
    name: str
    method: str
    url: str
    content: bytes | None = None
    content_type: str = "application/json"
    headers: dict[str, str] = field(default_factory=dict)
    authenticated: bool = True


JSON_VALUES: dict[str, str] = {
    "nul": '"a\\u0000b"',
    "lone surrogate": '"\\ud800x"',
    "overlong": json.dumps("x" * 150_000),
    # full-width Latin and a Cyrillic "a"
    "confusable": json.dumps("\uff50\uff41\uff59\uff50\uff41\uff4c_\u0430dmin"),
    "bidi override": json.dumps("abc\u202edef"),
    "zero width": json.dumps("a\u200bb\ufeff"),
    "controls": json.dumps("\x01\x1f\x7f\u0085"),
    "sql": json.dumps("' OR 1=1; DROP TABLE users; --"),
    "fts operators": json.dumps('"a" NEAR(b c) OR d* -e AND ^f:'),
    "NaN": "NaN",
    "Infinity": "Infinity",
    "-Infinity": "-Infinity",
    "1e400": "1e400",
    "2^63": str(2**63),
    "-2^63-1": str(-(2**63) - 1),
    "400 digits": "9" * 400,
    "float": "1.5",
    "true": "true",
    "null": "null",
    "numeric string": '"1"',
    "empty object": "{}",
    "nested 600": "[" * 600 + "]" * 600,
    "nested 999 objects": '{"a":' * 999 + "1" + "}" * 999,
    "nested 5000": "[" * 5000 + "]" * 5000,
}

QUERY_VALUES: dict[str, str] = {
    "nul": "a%00b",
    "lone surrogate": "%ED%A0%80",
    "invalid utf-8": "%FF%FE",
    "overlong": "x" * 5000,
    "full-width digit": "%EF%BC%91",
    "1.0": "1.0",
    "spaces": "%20%201",
    "negative": "-1",
    "zero": "0",
    "2^63": str(2**63),
    "exponent": "1e3",
    "NaN": "NaN",
    "Infinity": "Infinity",
    "date": "2024-01-01",
    "naive datetime": "2024-01-01T00:00:00",
    "max with negative offset": "9999-12-31T23:59:59-23:59",
    "min with positive offset": "0001-01-01T00:00:00%2B23:59",
    "year zero": "0000-01-01",
    "impossible date": "2024-13-45T25:61:61",
    "true": "true",
    "sql": "%27%20OR%201%3D1--",
    "fts operators": "%22a%22%20NEAR%20b*%20OR%20-c",
    "meta nul": "k:%00",
    "meta NaN": "k:NaN",
    "meta overlong": "k:" + "x" * 400,
    "meta deep": "k:" + "%5B" * 600,
}

ID_VALUES: dict[str, str] = {
    "1.0": "1.0",
    "spaces": "%20%201",
    "plus": "%2B1",
    "underscore": "1_0",
    "negative": "-1",
    "zero": "0",
    "2^63": str(2**63),
    "400 digits": "9" * 400,
    "full-width": "%EF%BC%91",
    "exponent": "1e3",
    "hex": "0x1",
    "nul": "1%00",
    "NaN": "NaN",
}

FORGED_CURSOR_VALUES: dict[str, list[Any]] = {
    "booleans": [True, True],
    "id 2^63": ["2024-01-01T00:00:00+00:00", 2**63],
    "key 2^63": [2**63, 1],
    "naive datetime": ["2024-01-01T00:00:00", 1],
    "datetime max": ["9999-12-31T23:59:59+00:00", 1],
    "floats": [1.5, 1.5],
    "nulls": [None, None],
    "containers": [{}, []],
    "nul text": ["\x00", 1],
    "too many": [1, 2, 3],
    "single 2^63": [2**63],
    "single bool": [True],
    "single uuid-ish": ["not-a-uuid"],
    "negative": [-(2**63) - 1],
}
CURSOR_SORTS = (
    "-created_at",
    "created_at",
    "-like_count",
    "id",
    "followers",
    "following",
    "-bookmarked_at",
)
SIGNED_IN_LISTS = {
    "-created_at": "/users/me/feed?limit=5",
    "-bookmarked_at": "/users/me/bookmarks?limit=5",
}


def forged_cursor(sort: str, values: list[Any], url: str) -> str:
    """Signed with the test secret and bound to the listing at `url` (under /api/v1): the
    server's own signature on hostile contents, which the value checks must still refuse."""
    path, _, query = url.partition("?")
    listing = listing_digest("/api/v1" + path, parse_qsl(query))
    return CursorCodec(TEST_JWT_SECRET).encode(SortKey(sort, (), False), values, listing)


def forged_token(**claims: Any) -> str:
    now = datetime.now(UTC)
    base: dict[str, Any] = {
        "sub": "1",
        "ver": 0,
        "iat": now,
        "exp": now + timedelta(hours=1),
        "iss": "inkwell",
        "aud": "inkwell-api",
    }
    return jwt.encode(base | claims, TEST_JWT_SECRET, algorithm="HS256")


FORGED_CLAIMS: dict[str, dict[str, Any]] = {
    "sub 2^63": {"sub": str(2**63)},
    "sub 400 digits": {"sub": "9" * 400},
    "sub negative": {"sub": "-1"},
    "sub zero": {"sub": "0"},
    "sub bool": {"sub": True},
    "sub float": {"sub": "1.0"},
    "sub int": {"sub": 1},
    "sub full-width": {"sub": "\uff11"},
    "sub nul": {"sub": "1\x00"},
    "ver bool": {"ver": True},
    "ver 2^63": {"ver": 2**63},
    "ver negative": {"ver": -1},
    "ver text": {"ver": "0"},
    "ver float": {"ver": 0.0},
    "iat naive text": {"iat": "2024-01-01T00:00:00"},
    "exp text": {"exp": "tomorrow"},
    "exp 2^63": {"exp": 2**63},
}


def _json_body(template: dict[str, Any], path: tuple[str | int, ...], raw: str) -> bytes:
    """`template` with the value at `path` replaced by the raw JSON text `raw`."""
    marker = f"@@{uuid.uuid4().hex}@@"
    document = json.loads(json.dumps(template))
    holder: Any = document
    for key in path[:-1]:
        holder = holder[key]
    holder[path[-1]] = marker
    return json.dumps(document).replace(json.dumps(marker), raw).encode()


SOON = "2999-01-01T00:00:00Z"
"""A `publish_at` the templates schedule posts at."""


def body_cases(t: Target) -> Iterator[Case]:
    unique = uuid.uuid4().hex[:8]
    user = {"username": f"h_{unique}", "email": f"h_{unique}@example.com", "password": "p" * 12}
    post = {"title": "t", "body": "b", "status": "published", "metadata": {}, "tags": []}
    profile = {"bio": "", "location": "", "website": "", "links": {}}
    templates: list[tuple[str, str, dict[str, Any], tuple[str | int, ...]]] = [
        *(("POST", "/users", user, (f,)) for f in ("username", "email", "password")),
        ("POST", "/users", {**user, "display_name": "d"}, ("display_name",)),
        *(("PATCH", "/users/me", {"display_name": "d"}, (f,)) for f in ("display_name", "email")),
        ("PATCH", "/users/me", {"password": "p" * 12}, ("password",)),
        *(("PUT", "/users/me/profile", profile, (f,)) for f in ("bio", "location", "website")),
        ("PUT", "/users/me/profile", profile, ("links",)),
        ("PUT", "/users/me/profile", {**profile, "links": {"k": "v"}}, ("links", "k")),
        *(("POST", "/posts", post, (f,)) for f in ("title", "body", "status", "metadata")),
        ("POST", "/posts", {**post, "slug": "s"}, ("slug",)),
        ("POST", "/posts", {**post, "metadata": {"k": 1}}, ("metadata", "k")),
        ("POST", "/posts", {**post, "tags": ["x"]}, ("tags", 0)),
        ("POST", "/posts", {**post, "status": "scheduled", "publish_at": SOON}, ("publish_at",)),
        ("PATCH", f"/posts/{t.post}", {"title": "t"}, ("title",)),
        ("PATCH", f"/posts/{t.post}", {"metadata": {"k": 1}}, ("metadata", "k")),
        ("PATCH", f"/posts/{t.post}", {"tags": ["x"]}, ("tags", 0)),
        ("PATCH", f"/posts/{t.post}", {"status": "scheduled", "publish_at": SOON}, ("publish_at",)),
        ("POST", "/posts/bulk", {"items": [post]}, ("items", 0)),
        ("POST", "/posts/bulk", {"items": [post]}, ("items", 0, "metadata")),
        ("POST", f"/posts/{t.post}/comments", {"body": "c"}, ("body",)),
        ("POST", f"/posts/{t.post}/comments", {"body": "c", "parent_id": None}, ("parent_id",)),
    ]
    for method, path, template, where in templates:
        revokes = where == ("password",) and method == "PATCH"
        for name, raw in JSON_VALUES.items():
            label = ".".join(map(str, where))
            content = _json_body(template, where, raw)
            headers = t.spare if revokes else {}
            yield Case(f"{method} {path} {label}={name}", method, path, content, headers=headers)
    for name, raw in JSON_VALUES.items():
        yield Case(f"POST /posts whole body={name}", "POST", "/posts", raw.encode())
    for name, content in {
        "invalid utf-8": b'{"title": "\xff\xfe", "body": "b"}',
        "bom": b'\xef\xbb\xbf{"title": "t", "body": "b"}',
        "empty": b"",
        "duplicate keys": b'{"title": "t", "title": "u", "body": "b"}',
        "trailing garbage": b'{"title": "t", "body": "b"} x',
    }.items():
        yield Case(f"POST /posts body {name}", "POST", "/posts", content)


def query_cases(t: Target) -> Iterator[Case]:
    params = {
        "/posts": (
            "author_id",
            "tag",
            "status",
            "created_after",
            "created_before",
            "q",
            "meta",
            "commented_by",
            "sort",
            "limit",
            "cursor",
        ),
        "/posts/search": ("q", "limit"),
        "/posts/top": ("per_author", "cursor"),
        "/users": ("limit", "cursor"),
        "/tags": ("limit",),
        f"/posts/{t.post}/comments": ("cursor",),
        f"/posts/{t.post}/revisions": ("limit", "cursor"),
        "/users/me/notifications": ("cursor",),
        "/users/me/feed": ("limit", "cursor"),
        "/users/me/bookmarks": ("limit", "cursor"),
    }
    for path, names in params.items():
        for name in names:
            base = "q=x&" if path == "/posts/search" and name != "q" else ""
            for label, raw in QUERY_VALUES.items():
                url = f"{path}?{base}{name}={raw}"
                yield Case(f"GET {path} {name}={label}", "GET", url)
                if path == "/posts":
                    yield Case(f"GET {path} {name}={label} anon", "GET", url, authenticated=False)


def id_cases(t: Target) -> Iterator[Case]:
    routes = [
        ("GET", "/posts/{}"),
        ("PATCH", "/posts/{}"),
        ("DELETE", "/posts/{}"),
        ("POST", "/posts/{}/restore"),
        ("PUT", "/posts/{}/like"),
        ("PUT", "/posts/{}/bookmark"),
        ("DELETE", "/posts/{}/bookmark"),
        ("GET", "/posts/{}/comments"),
        ("GET", "/posts/{}/revisions"),
        ("GET", f"/posts/{t.post}/revisions/{{}}"),
        ("POST", f"/posts/{t.post}/revisions/{{}}/restore"),
        ("GET", "/users/{}"),
        ("GET", "/users/{}/profile"),
        ("PUT", "/users/{}/follow"),
        ("GET", "/users/{}/followers"),
        ("GET", "/users/{}/stats"),
        ("GET", "/comments/{}/replies"),
        ("DELETE", "/comments/{}"),
    ]
    for method, template in routes:
        for label, raw in ID_VALUES.items():
            content = b'{"title": "t"}' if method == "PATCH" else None
            yield Case(f"{method} {template} id={label}", method, template.format(raw), content)


def forged_cases(t: Target) -> Iterator[Case]:
    lists = {
        "-created_at": "/posts?sort=-created_at",
        "created_at": "/posts?sort=created_at",
        "-like_count": "/posts?sort=-like_count",
        "id": "/users?limit=5",
        "followers": f"/users/{t.user}/followers?limit=5",
        "following": f"/users/{t.user}/following?limit=5",
        "-bookmarked_at": "/users/me/bookmarks?limit=5",
    }
    comment_pages = (f"/posts/{t.post}/comments?limit=5", f"/comments/{t.comment}/replies?limit=5")
    for sort in CURSOR_SORTS:
        for label, values in FORGED_CURSOR_VALUES.items():
            for url in (lists[sort], "/posts/top?per_author=2", *comment_pages):
                cursor = forged_cursor(sort, values, url)
                yield Case(f"GET {url} cursor[{sort}]={label}", "GET", f"{url}&cursor={cursor}")
    for sort, url in SIGNED_IN_LISTS.items():
        for label, values in FORGED_CURSOR_VALUES.items():
            cursor = forged_cursor(sort, values, url)
            yield Case(f"GET {url} cursor[{sort}]={label}", "GET", f"{url}&cursor={cursor}")
    for label, claims in FORGED_CLAIMS.items():
        token = {"Authorization": f"Bearer {forged_token(**claims)}"}
        for method, url, content in (
            ("GET", "/users/me", None),
            ("GET", "/posts?status=draft", None),
            ("GET", f"/posts/{t.draft}", None),
            ("POST", "/posts", b'{"title": "t", "body": "b"}'),
        ):
            yield Case(f"{method} {url} token {label}", method, url, content, headers=token)


def header_cases(t: Target) -> Iterator[Case]:
    patch = b'{"title": "t"}'
    post = b'{"title": "t", "body": "b"}'
    headers: dict[str, dict[str, str]] = {
        "bearer overlong": {"Authorization": "Bearer " + "x" * 8000},
        "bearer garbage": {"Authorization": "Bearer a.b.c"},
        "basic scheme": {"Authorization": "Basic Zm9vOmJhcg=="},
        "if-match overlong": {"If-Match": '"' + "x" * 1000 + '"'},
        "if-match weak": {"If-Match": 'W/"1"'},
        "if-match list": {"If-Match": '"a", "b", *'},
        "idempotency overlong": {"Idempotency-Key": "k" * 1000},
        "idempotency odd": {"Idempotency-Key": "key with spaces; and: punctuation"},
        "consistency token garbage": {"X-Consistency-Token": "garbage.%00"},
        "cookie garbage": {"Cookie": "consistency_token=" + "x" * 4000},
        "if-none-match odd": {"If-None-Match": "W/W/W/*"},
        "content-type odd": {"Content-Type": "application/json; charset=latin-1"},
    }
    for label, extra in headers.items():
        yield Case(f"PATCH /posts/id {label}", "PATCH", f"/posts/{t.post}", patch, headers=extra)
        yield Case(f"POST /posts {label}", "POST", "/posts", post, headers=extra)
        yield Case(f"GET /posts/id {label}", "GET", f"/posts/{t.post}", headers=extra)


def form_cases(t: Target) -> Iterator[Case]:
    fields = ("username", "password", "grant_type", "scope", "client_id", "client_secret")
    base = {"username": "nobody", "password": "whatever-pass", "grant_type": "password"}
    for name in fields:
        for label, raw in QUERY_VALUES.items():
            form = {**base, name: raw}
            content = "&".join(f"{k}={v}" for k, v in form.items()).encode()
            yield Case(
                f"POST /auth/token {name}={label}",
                "POST",
                "/auth/token",
                content,
                content_type="application/x-www-form-urlencoded",
                authenticated=False,
            )


def all_cases(t: Target) -> list[Case]:
    return [
        *body_cases(t),
        *query_cases(t),
        *id_cases(t),
        *forged_cases(t),
        *header_cases(t),
        *form_cases(t),
    ]
