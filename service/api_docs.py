"""The API document's words: its description and its tags (the operations describe themselves).

Read by `service/main.py`; what is not an HTTP operation (the websocket feed, `/metrics`) is
described here, since OpenAPI has no place for it.
"""

from typing import Any

from service.observability.metrics import METRICS
from service.realtime.docs import FEED

DESCRIPTION = f"""\
Inkwell: users, profiles, posts, comments, tags, follows, likes and notifications.

## Authentication
Register with `POST /api/v1/users`, then log in with the OAuth2 password form
(`POST /api/v1/auth/token`, `application/x-www-form-urlencoded`, fields `username` and
`password`; not JSON) and send `Authorization: Bearer <access_token>`. Writes need a token;
reads are public, and a token on a read only adds what is yours (your drafts).

## Errors
Every error is `application/problem+json` (RFC 9457): `type`, `title`, `status`, `detail`, plus
`errors: [{{loc, msg}}]` on a 422 (never the submitted value). Each operation lists the statuses
it can answer with an example per cause. 429 and 503 carry `Retry-After`.

## Pages
Lists are keyset pages: `{{"items": [...], "next_cursor": "..." | null}}`. Pass `next_cursor`
back verbatim as `cursor`; cursors are signed, so one the server did not issue is a 400.

## Writes
- A new post is a **draft** unless created with `"status": "published"`; `GET /api/v1/posts`
  lists published posts (add `status=draft` to see your own drafts).
- `Idempotency-Key` on a create: a retry with the same key replays the first answer
  (`Idempotent-Replayed: true`) and creates nothing.
- `PATCH`/`DELETE` of a post take `If-Match: <ETag>`: a stale version is a 412.
- Read-your-writes with read replicas: send back the `X-Consistency-Token` of a write (header,
  or the `consistency_token` cookie set with it) and the read waits for a database that has it.
- Rate limits answer 429 with `Retry-After` and `RateLimit-*`; the `detail` names the setting.

{FEED}
{METRICS}"""

TAGS: list[dict[str, Any]] = [
    {"name": "auth", "description": "Log in: the OAuth2 password form gives a bearer token."},
    {"name": "users", "description": "Accounts (register, me) and public profiles."},
    {"name": "posts", "description": "Posts: drafts and published, likes, search, export, bulk."},
    {"name": "comments", "description": "Threaded comments on posts."},
    {"name": "tags", "description": "Tags with their number of published posts."},
    {"name": "follows", "description": "Who follows whom."},
    {"name": "feed", "description": "Your home feed: published posts by the authors you follow."},
    {"name": "bookmarks", "description": "Your reading list: the posts you bookmarked."},
    {"name": "stats", "description": "Counts about a user."},
    {"name": "notifications", "description": "Your notifications: posts by people you follow."},
    {
        "name": "webhooks",
        "description": "Your webhook endpoints: signed deliveries of events, their log, retries.",
    },
    {"name": "feeds", "description": "Atom 1.0 feeds of the latest published posts."},
    {"name": "moderation", "description": "Roles and the moderation log (moderators, admins)."},
    {"name": "health", "description": "Liveness and readiness probes for orchestrators."},
]
