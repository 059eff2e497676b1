"""The websocket feed, described for the API document (OpenAPI 3.1 has no websocket operations)."""

from service.realtime.feed import GAP
from service.realtime.hub import CLOSE_GOING_AWAY, CLOSE_TRY_AGAIN_LATER

FEED = f"""\
## Realtime feed: `WS /api/v1/ws/posts`

A websocket that pushes every newly published post, from every instance of the service
(PostgreSQL LISTEN/NOTIFY; in-process on SQLite). No token is needed; the client sends nothing.

**Frames** (text, JSON), in increasing `event_id` order; `post` is the post as
`GET /api/v1/posts/{{post_id}}` shows it (shortened here):

```json
{{"event_id": 42, "type": "post.published", "post": {{"id": 7, "title": "Hello"}}}}
```

**Resuming**: connect with `?after=<event_id>` (an integer ≥ 0, the last `event_id` you
received). The server first replays every event after it from durable storage (kept at least
24 h, `JOBS_RETENTION_SECONDS`), then goes live: nothing is lost or repeated across the seam,
even if the server's own LISTEN connection was down meanwhile. When events cannot be replayed
(older than the retention, or an id never issued) the first frame is `{GAP}`: reload what
you show (e.g. `GET /api/v1/posts`), then keep reading.

**Closing codes**: `{CLOSE_TRY_AGAIN_LATER}` (try again later) when the server is full
(`REALTIME_MAX_CLIENTS`) or the client reads too slowly (reconnect with `after`);
`{CLOSE_GOING_AWAY}` when the server shuts down.

```sh
websocat 'ws://127.0.0.1:8000/api/v1/ws/posts?after=0'
```
"""
