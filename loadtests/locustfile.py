"""Locust scenarios for Inkwell (run by `make bench`; one user class per scenario).

    locust -f loadtests/locustfile.py --headless -u 64 -t 20s \
        --host http://127.0.0.1:8000 GetPostUser

Scenarios: GetPostUser / FirstPageUser (the hot paths), BrowseUser, ReadUser (these four also
run against the reference and idiomatic apps), SearchUser, WriteUser and MixedUser (~90%
reads); ProbeUser is the throughput probe's fallback when wrk is missing (random paths from
the JSON list in BENCH_PROBE_PATHS). Endpoints the running
service does not offer yet (comments, likes, search: read from /openapi.json at start) are
skipped, never counted as failures. Post ids come from BENCH_IDS_FILE (written by the bench
harness) so that reads only ask for posts that exist and are published.
"""

import json
import os
import random
import time
import urllib.request
import uuid
from dataclasses import dataclass, field
from typing import Any

from locust import between, constant, events, task
from locust.contrib.fasthttp import FastHttpUser
from locust.env import Environment

API = "/api/v1"
SEARCH_WORDS = ("async", "index", "replica", "latency", "python", "cursor", "pool", "schema")


@dataclass
class Fixture:
    """What every simulated user may pick from: ids known to exist, seeded user count."""

    published_post_ids: list[int] = field(default_factory=list)
    author_ids: list[int] = field(default_factory=list)
    users: int = 0
    tokens: list[str] = field(default_factory=list)
    paths: set[str] = field(default_factory=set)

    def has(self, method: str, path: str) -> bool:
        return f"{method} {path}" in self.paths


FIXTURE = Fixture()
PROBE_PATHS: list[str] = []


@events.test_start.add_listener  # type: ignore[untyped-decorator]
def _load_fixture(environment: Environment, **_: Any) -> None:
    ids_file = os.environ.get("BENCH_IDS_FILE")
    if ids_file:
        with open(ids_file, encoding="utf-8") as handle:
            data = json.load(handle)
        FIXTURE.published_post_ids = data["published_post_ids"]
        FIXTURE.author_ids = data["author_ids"]
        FIXTURE.users = data["users"]
        FIXTURE.tokens = data.get("tokens", [])
    probe_file = os.environ.get("BENCH_PROBE_PATHS")
    if probe_file:
        with open(probe_file, encoding="utf-8") as handle:
            PROBE_PATHS[:] = json.load(handle)
    host = environment.host or ""
    try:
        with urllib.request.urlopen(f"{host}/openapi.json", timeout=10) as response:
            spec = json.load(response)
    except OSError:
        spec = {"paths": {}}  # the reference app has no OpenAPI document
    if not spec.get("paths"):
        # The reference (no OpenAPI document) serves exactly these of the endpoints below.
        spec = {"paths": {f"{API}/posts/{{post_id}}/comments": {"get": {}}}}
    FIXTURE.paths = {
        f"{method.upper()} {path}" for path, item in spec["paths"].items() for method in item
    }
    if not FIXTURE.published_post_ids:
        FIXTURE.published_post_ids = list(range(1, 1001))


def _post_id() -> int:
    return random.choice(FIXTURE.published_post_ids)


class _InkwellUser(FastHttpUser):
    abstract = True
    wait_time = constant(0)
    # A hung request is a failure after 10 s, not a silent stall of the closed loop.
    connection_timeout = 10.0
    network_timeout = 10.0
    headers: dict[str, str]

    def on_start(self) -> None:
        self.headers = {}

    def get_post(self) -> None:
        self.client.get(f"{API}/posts/{_post_id()}", name="GET /posts/{id}")

    def first_page(self) -> None:
        self.client.get(f"{API}/posts?limit=20", name="GET /posts (first page)")

    def comments_of(self, post_id: int) -> bool:
        if not FIXTURE.has("GET", f"{API}/posts/{{post_id}}/comments"):
            return False
        self.client.get(f"{API}/posts/{post_id}/comments", name="GET /posts/{id}/comments")
        return True

    def search(self) -> bool:
        if not FIXTURE.has("GET", f"{API}/posts/search"):
            return False
        q = random.choice(SEARCH_WORDS)
        self.client.get(f"{API}/posts/search?q={q}", name="GET /posts/search")
        return True

    def browse(self, pages: int) -> None:
        """Follow `next_cursor` through a few pages of one randomly chosen listing."""
        choice = random.random()
        if choice < 0.5 or not FIXTURE.author_ids:
            query, name = "limit=20", "GET /posts?cursor"
        elif choice < 0.8:
            query, name = (
                f"limit=20&author_id={random.choice(FIXTURE.author_ids)}",
                "GET /posts?author_id",
            )
        else:
            query, name = "limit=20&sort=created_at&status=published", "GET /posts?sort=created_at"
        cursor: str | None = None
        for _ in range(pages):
            url = f"{API}/posts?{query}" + (f"&cursor={cursor}" if cursor else "")
            with self.client.get(url, name=name, catch_response=True) as response:
                if response.status_code != 200:
                    response.failure(f"HTTP {response.status_code}")
                    return
                cursor = response.json()["next_cursor"]
            if cursor is None:
                return

    def login(self, username: str, password: str) -> None:
        """OAuth2 password login; a 429 (login rate limit) is waited out, not a failure."""
        for _ in range(10):
            with self.client.post(
                f"{API}/auth/token",
                data={"username": username, "password": password},
                name="POST /auth/token",
                catch_response=True,
            ) as response:
                if response.status_code == 429:
                    response.success()
                    time.sleep(float(response.headers.get("Retry-After", "1")))
                    continue
                if response.status_code != 200:
                    response.failure(f"HTTP {response.status_code}")
                    return
                self.headers = {"Authorization": f"Bearer {response.json()['access_token']}"}
                return

    def create_post(self) -> int | None:
        body = {
            "title": f"Load test {uuid.uuid4().hex[:8]}",
            "body": "Written by the load test. " * random.randint(2, 20),
            "status": "published",
            "tags": random.sample(["python", "bench", "async", "postgres"], 2),
            "metadata": {"source": "locust"},
        }
        if not FIXTURE.has("GET", "/api/v1/tags"):
            body.pop("tags")  # the post schema forbids fields it does not know yet
        with self.client.post(
            f"{API}/posts", json=body, headers=self.headers, name="POST /posts", catch_response=True
        ) as response:
            if response.status_code != 201:
                response.failure(f"HTTP {response.status_code}")
                return None
            post_id: int = response.json()["id"]
            return post_id

    def comment(self) -> None:
        if not FIXTURE.has("POST", f"{API}/posts/{{post_id}}/comments"):
            self.create_post()  # until comments exist
        else:
            self.client.post(
                f"{API}/posts/{_post_id()}/comments",
                json={"body": "Nice post. " * random.randint(1, 5)},
                headers=self.headers,
                name="POST /posts/{id}/comments",
            )

    def like(self) -> None:
        if not FIXTURE.has("PUT", f"{API}/posts/{{post_id}}/like"):
            self.create_post()  # until likes exist
        else:
            self.client.put(
                f"{API}/posts/{_post_id()}/like", headers=self.headers, name="PUT /posts/{id}/like"
            )


class GetPostUser(_InkwellUser):
    """Hot path 1: one post by id with its author (service and reference)."""

    @task
    def read(self) -> None:
        self.get_post()


class FirstPageUser(_InkwellUser):
    """Hot path 2: the first page of 20 published posts with authors (service and reference)."""

    @task
    def read(self) -> None:
        self.first_page()


class BrowseUser(_InkwellUser):
    @task
    def pages(self) -> None:
        self.browse(pages=5)


class ReadUser(_InkwellUser):
    @task
    def read(self) -> None:
        post_id = _post_id()
        self.client.get(f"{API}/posts/{post_id}", name="GET /posts/{id}")
        self.comments_of(post_id)


class SearchUser(_InkwellUser):
    @task
    def search_posts(self) -> None:
        self.search()


class WriteUser(_InkwellUser):
    """Registers once, then writes: posts, comments, likes."""

    def on_start(self) -> None:
        super().on_start()
        username = f"lt_{uuid.uuid4().hex[:20]}"
        password = f"pw-{uuid.uuid4().hex}"
        response = self.client.post(
            f"{API}/users",
            json={"username": username, "email": f"{username}@load.example", "password": password},
            name="POST /users",
        )
        if response.status_code == 201:
            self.login(username, password)

    @task(3)
    def post(self) -> None:
        if self.headers:
            self.create_post()

    @task(3)
    def comment_on_post(self) -> None:
        if self.headers:
            self.comment()

    @task(4)
    def like_post(self) -> None:
        if self.headers:
            self.like()


class ProbeUser(_InkwellUser):
    """The throughput probe without wrk: one endpoint, random concrete paths (harness-made)."""

    @task
    def probe(self) -> None:
        self.client.get(random.choice(PROBE_PATHS), name="probe")


class MixedUser(_InkwellUser):
    """A realistic mix: ~90% reads; writes use tokens the harness minted for seeded users.

    Real clients log in rarely and reuse their token; logins (argon2) are measured by WriteUser.
    """

    wait_time = between(0, 0.01)

    @task(40)
    def read_post(self) -> None:
        self.get_post()

    @task(20)
    def front_page(self) -> None:
        self.first_page()

    @task(15)
    def browse_pages(self) -> None:
        self.browse(pages=3)

    @task(10)
    def read_comments(self) -> None:
        if not self.comments_of(_post_id()):
            self.get_post()  # until comments exist

    @task(5)
    def search_posts(self) -> None:
        if not self.search():
            self.get_post()  # until search exists

    @task(10)
    def write(self) -> None:
        if not FIXTURE.tokens:
            self.get_post()
            return
        if not self.headers:
            self.headers = {"Authorization": f"Bearer {random.choice(FIXTURE.tokens)}"}
        choice = random.random()
        if choice < 0.4:
            self.create_post()
        elif choice < 0.7:
            self.comment()
        else:
            self.like()
