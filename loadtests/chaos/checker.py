"""The checker: the whole history against the final database; every broken promise is reported."""

import itertools
from collections import defaultdict
from collections.abc import Iterable, Iterator
from dataclasses import dataclass

from loadtests.chaos.history import Record
from loadtests.chaos.state import Snapshot

GRACE_SECONDS = 5.0
"""A 503 (or a refused connection after an app fault) may end this long after its window."""
EXPECTED: dict[str, set[int]] = {
    "create": {201, 409},
    "read_own": {200},
    "read_token": {200},
    "read_edit": {200},
    "edit": {200, 412},
    "like": {200},
    "unlike": {200},
    "follow": {204},
    "unread": {200},
    "list": {200},
}
"""Statuses each operation may get besides a 503 with Retry-After inside a fault window."""
APP_FAULTS = {"app_kill", "app_term"}
TOKEN_READS = {"read_own", "read_token", "read_edit"}


@dataclass(frozen=True)
class Violation:
    kind: str
    detail: str


def title_key(title: str) -> str | None:
    """The Idempotency-Key a chaos post carries in its title (`chaos <key>`)."""
    return title.removeprefix("chaos ") if title.startswith("chaos ") else None


def of(records: Iterable[Record], kind: str) -> list[Record]:
    return [r for r in records if r.get("type") == kind]


def in_window(op: Record, faults: list[Record], kinds: set[str] | None = None) -> bool:
    return any(
        op["start"] <= f["end"] + GRACE_SECONDS and op["end"] >= f["start"]
        for f in faults
        if kinds is None or f["kind"] in kinds
    )


def check(records: list[Record], db: Snapshot) -> list[Violation]:
    """Every violation the history and the database show together; empty when all held."""
    return [
        *statuses(records),
        *writes(records, db),
        *likes(records, db),
        *follows(records, db),
        *token_reads(records),
        *versions(records, db),
        *feeds(records, db),
        *notifications(db),
    ]


def statuses(records: list[Record]) -> Iterator[Violation]:
    """No 500 anywhere; 503 only with Retry-After in a fault window; no hang; nothing else odd."""
    faults = of(records, "fault")
    for op in of(records, "op"):
        status, where = op["status"], f"{op['client']} {op['op']} {op['method']} {op['path']}"
        if status is None:
            error = str(op.get("error"))
            if error.startswith("timeout"):
                yield Violation("hang", f"{where}: no answer ({error})")
            elif not in_window(op, faults, APP_FAULTS):
                yield Violation("transport_error", f"{where}: {error} outside an app fault")
        elif status == 503:
            if not op.get("retry_after"):
                yield Violation("503_without_retry_after", where)
            if not in_window(op, faults):
                yield Violation("503_outside_fault", f"{where} at {op['start']:.3f}")
        elif status >= 500:
            yield Violation("server_error", f"{where}: {status}")
        elif status not in EXPECTED.get(op["op"], {200}) and not (
            op["op"] in TOKEN_READS and status == 404  # judged by token_reads()
        ):
            yield Violation("unexpected_status", f"{where}: {status}")


def posts_by_key(db: Snapshot) -> dict[str, list[int]]:
    found: dict[str, list[int]] = defaultdict(list)
    for post in db.posts.values():
        if (key := title_key(post.title)) is not None:
            found[key].append(post.id)
    return found


def acknowledged(records: list[Record]) -> dict[str, set[int]]:
    """Idempotency-Key: the post ids its 201s named."""
    acked: dict[str, set[int]] = defaultdict(set)
    for op in of(records, "op"):
        if op["op"] == "create" and op["status"] == 201:
            acked[op["key"]].add(int(op["answer"]["id"]))
    return acked


def writes(records: list[Record], db: Snapshot) -> Iterator[Violation]:
    """Every acknowledged post is there, under its key's one id; no key made two posts."""
    stored, acked = posts_by_key(db), acknowledged(records)
    tried = {op["key"] for op in of(records, "op") if op["op"] == "create"}
    for key in sorted(tried):
        if len(stored.get(key, [])) > 1:
            yield Violation("duplicate", f"key {key} applied {len(stored[key])} times")
    for key, ids in sorted(acked.items()):
        if len(ids) > 1:
            yield Violation("duplicate", f"key {key} answered with posts {sorted(ids)}")
        if not ids <= set(stored.get(key, [])):
            yield Violation("lost_write", f"key {key}: post {sorted(ids)} acknowledged, not stored")


def user_ids(records: list[Record]) -> dict[str, int]:
    return {r["name"]: int(r["user_id"]) for r in of(records, "client")}


def likes(records: list[Record], db: Snapshot) -> Iterator[Violation]:
    """like_count is the likes rows; a pair's last acknowledged (and last) like/unlike holds."""
    counted: dict[int, int] = defaultdict(int)
    for post_id, _ in db.likes:
        counted[post_id] += 1
    for post in db.posts.values():
        if post.like_count != counted[post.id]:
            yield Violation(
                "like_count",
                f"post {post.id}: like_count {post.like_count}, {counted[post.id]} rows",
            )
    users, last = user_ids(records), {}
    for op in sorted(of(records, "op"), key=lambda r: r["start"]):
        if op["op"] in ("like", "unlike"):
            last[(op["client"], op["post"])] = op
    for (client, post_id), op in sorted(last.items()):
        if op["status"] == 200 and client in users:
            liked = (post_id, users[client]) in db.likes
            if liked != (op["op"] == "like"):
                yield Violation("lost_write", f"{client} {op['op']} of post {post_id} not stored")


def follows(records: list[Record], db: Snapshot) -> Iterator[Violation]:
    users = user_ids(records)
    for op in of(records, "op"):
        if (
            op["op"] == "follow"
            and op["status"] == 204
            and op["client"] in users
            and (users[op["client"]], op["followee"]) not in db.follows
        ):
            yield Violation("lost_write", f"{op['client']} follows {op['followee']}: not stored")


def token_reads(records: list[Record]) -> Iterator[Violation]:
    """A read that carried the token of a write saw that write (that version or a later one)."""
    for op in of(records, "op"):
        if op["op"] not in TOKEN_READS or not op.get("sent_token"):
            continue
        where = f"{op['client']} {op['op']} post {op['post']}"
        if op["status"] == 404:
            yield Violation("stale_read", f"{where}: 404 with the token of its write")
        elif (
            op["status"] == 200
            and op.get("expect_version") is not None
            and int(op["answer"]["version"]) < int(op["expect_version"])
        ):
            got, wanted = op["answer"]["version"], op["expect_version"]
            yield Violation("stale_read", f"{where}: version {got} < {wanted}")


def versions(records: list[Record], db: Snapshot) -> Iterator[Violation]:
    """Editors' versions never go back, none is acknowledged twice, the newest one is stored."""
    seen: dict[tuple[str, int], int] = {}
    acked: dict[int, list[int]] = defaultdict(list)
    editors = {r["name"] for r in of(records, "client") if r.get("role") == "editor"}
    for op in sorted(of(records, "op"), key=lambda r: r["start"]):
        if op["status"] != 200 or "version" not in op.get("answer", {}):
            continue
        version = int(op["answer"]["version"])
        if op["op"] == "edit":
            acked[op["post"]].append(version)
        if op["client"] in editors and op["op"] in ("edit", "read_edit"):
            pair = (op["client"], op["post"])
            if version < seen.get(pair, 0):
                yield Violation("version_back", f"{pair}: {version} after {seen[pair]}")
            seen[pair] = max(version, seen.get(pair, 0))
    for post_id, numbers in acked.items():
        if len(numbers) != len(set(numbers)):
            yield Violation("duplicate", f"post {post_id}: a version acknowledged twice {numbers}")
        stored = db.posts.get(post_id)
        if stored is None or stored.version < max(numbers):
            yield Violation("lost_write", f"post {post_id}: version {max(numbers)} not stored")


def feeds(records: list[Record], db: Snapshot) -> Iterator[Violation]:
    """Each feed client saw every published post once, in event order (or got a `gap`)."""
    shown = {p.id for p in db.posts.values() if p.published}
    for name in sorted({r["client"] for r in of(records, "feed_open")}):
        frames = [r for r in of(records, "frame") if r["client"] == name]
        gaps = [r for r in of(records, "gap") if r["client"] == name]
        events = [int(f["event"]) for f in frames]
        for before, after in itertools.pairwise(events):
            if after <= before:
                yield Violation("feed_order", f"{name}: event {after} after {before}")
        got: dict[int, int] = defaultdict(int)
        for frame in frames:
            got[int(frame["post"])] += 1
        for post_id, times in sorted(got.items()):
            if times > 1:
                yield Violation("feed_duplicate", f"{name}: post {post_id} {times} times")
            if post_id not in shown:
                yield Violation("feed_phantom", f"{name}: post {post_id} is not published")
        missing = sorted(shown - set(got))
        if missing and not gaps:
            yield Violation("feed_missing", f"{name}: {len(missing)} posts, e.g. {missing[:5]}")


def notifications(db: Snapshot) -> Iterator[Violation]:
    """Every follower of an author got exactly one notification per published post."""
    if db.undone_events:
        yield Violation("outbox_not_drained", f"{db.undone_events} events still pending")
    followers: dict[int, set[int]] = defaultdict(set)
    for follower, followee in db.follows:
        followers[followee].add(follower)
    for post in db.posts.values():
        if not post.published:
            continue
        for user in sorted(followers[post.author_id]):
            times = db.notifications.get((user, post.id), 0)
            if times != 1:
                yield Violation("notification", f"user {user}, post {post.id}: {times} times")
    for (user, post_id), times in db.notifications.items():
        if times > 1 and post_id not in db.posts:
            yield Violation("notification", f"user {user}, post {post_id}: {times} times")
