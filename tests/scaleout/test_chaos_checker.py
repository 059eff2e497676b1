"""The chaos checker on small synthetic histories: each promise broken once must be reported
(so a green chaos run means something), and a clean history reports nothing."""

from collections import Counter
from typing import Any

import pytest

from loadtests.chaos.checker import GRACE_SECONDS, Violation, check
from loadtests.chaos.history import Record
from loadtests.chaos.report import figures, render
from loadtests.chaos.state import PostRow, Snapshot

WRITER, FOLLOWER, EDITOR = 10, 20, 30


def op(op: str, status: int | None, start: float, **facts: Any) -> Record:
    record: Record = {
        "type": "op",
        "client": facts.pop("client", "writer0"),
        "op": op,
        "start": start,
        "end": facts.pop("end", start + 0.1),
        "instance": 0,
        "method": "X",
        "path": "/p",
        "status": status,
        "error": facts.pop("error", None),
        "retry_after": facts.pop("retry_after", None),
        "sent_token": facts.pop("token", False),
        "answer": facts.pop("answer", {}),
    }
    return record | facts


def create(key: str, post_id: int, start: float) -> Record:
    return op("create", 201, start, key=key, answer={"id": post_id, "version": 1})


def fault(kind: str, start: float, end: float) -> Record:
    return {"type": "fault", "number": 0, "kind": kind, "start": start, "end": end}


def clients() -> list[Record]:
    return [
        {"type": "client", "name": "writer0", "role": "writer", "user_id": WRITER},
        {"type": "client", "name": "follower0", "role": "follower", "user_id": FOLLOWER},
        {"type": "client", "name": "editor0", "role": "editor", "user_id": EDITOR},
        {"type": "client", "name": "liker0", "role": "liker", "user_id": 40},
    ]


def feed(*posts: tuple[int, int]) -> list[Record]:
    return [{"type": "feed_open", "client": "feed0", "after": 0, "at": 0.0}] + [
        {"type": "frame", "client": "feed0", "event": e, "post": p, "at": 1.0} for e, p in posts
    ]


def post(post_id: int, key: str, **fields: Any) -> PostRow:
    values: dict[str, Any] = {"author_id": WRITER, "published": True, "version": 1}
    return PostRow(
        post_id, f"chaos {key}", like_count=fields.pop("like_count", 0), **(values | fields)
    )


def clean() -> tuple[list[Record], Snapshot]:
    """Two acknowledged posts, seen by the feed and notified: nothing to report."""
    records = [
        *clients(),
        fault("primary_kill", 5.0, 15.0),
        create("a", 1, 1.0),
        op("create", 503, 6.0, key="b", retry_after="2"),
        create("b", 2, 16.0),
        op("like", 200, 17.0, client="liker0", post=1, answer={"liked": True}),
        op("read_own", 200, 18.0, token=True, post=2, expect_version=1, answer={"version": 1}),
        op("follow", 204, 0.5, client="follower0", followee=WRITER),
        *feed((1, 1), (2, 2)),
    ]
    db = Snapshot(
        posts={1: post(1, "a", like_count=1), 2: post(2, "b")},
        likes={(1, 40)},
        follows={(FOLLOWER, WRITER)},
        notifications=Counter({(FOLLOWER, 1): 1, (FOLLOWER, 2): 1}),
    )
    return records, db


def kinds(violations: list[Violation]) -> set[str]:
    return {v.kind for v in violations}


def test_a_clean_history_has_no_violation() -> None:
    records, db = clean()
    assert check(records, db) == []
    assert "violations: 0" in render(records, db, [])


def test_an_acknowledged_post_missing_from_the_database_is_a_lost_write() -> None:
    records, db = clean()
    del db.posts[2]
    db.notifications.pop((FOLLOWER, 2))
    assert "lost_write" in kinds(check(records, db))


def test_a_key_applied_twice_is_a_duplicate() -> None:
    records, db = clean()
    db.posts[3] = post(3, "b")
    db.notifications[(FOLLOWER, 3)] = 1
    found = check([*records, {"type": "frame", "client": "feed0", "event": 3, "post": 3}], db)
    assert kinds(found) == {"duplicate"}


def test_a_key_answered_with_two_posts_is_a_duplicate() -> None:
    records, db = clean()
    assert "duplicate" in kinds(check([*records, create("b", 1, 20.0)], db))


def test_like_count_must_equal_the_likes_rows() -> None:
    records, db = clean()
    db.posts[2] = post(2, "b", like_count=3)
    assert kinds(check(records, db)) == {"like_count"}


def test_an_acknowledged_like_not_stored_is_lost() -> None:
    records, db = clean()
    db.likes.clear()
    db.posts[1] = post(1, "a", like_count=0)
    assert kinds(check(records, db)) == {"lost_write"}


def test_an_acknowledged_follow_not_stored_is_lost() -> None:
    records, db = clean()
    db.follows.clear()
    assert kinds(check(records, db)) == {"lost_write"}


@pytest.mark.parametrize(
    ("status", "answer"), [(404, {}), (200, {"version": 1})], ids=["404", "older-version"]
)
def test_a_read_with_a_token_that_misses_its_write_is_stale(
    status: int, answer: dict[str, int]
) -> None:
    records, db = clean()
    read = op("read_token", status, 19.0, token=True, post=2, expect_version=2, answer=answer)
    assert kinds(check([*records, read], db)) == {"stale_read"}


def test_an_editor_seeing_its_version_go_back_is_reported() -> None:
    records, db = clean()
    db.posts[2] = post(2, "b", version=3)
    edits = [
        op("edit", 200, 20.0, client="editor0", post=2, answer={"version": 3}),
        op("read_edit", 200, 21.0, client="editor0", post=2, answer={"version": 2}),
    ]
    assert kinds(check(records + edits, db)) == {"version_back"}


def test_an_acknowledged_version_above_the_stored_one_is_lost() -> None:
    records, db = clean()
    edit = op("edit", 200, 20.0, client="editor0", post=2, answer={"version": 2})
    assert kinds(check([*records, edit], db)) == {"lost_write"}


@pytest.mark.parametrize(
    ("frames", "kind"),
    [
        (((1, 1),), "feed_missing"),
        (((1, 1), (2, 2), (2, 2)), "feed_duplicate"),
        (((2, 2), (1, 1)), "feed_order"),
        (((1, 1), (2, 2), (9, 9)), "feed_phantom"),
    ],
)
def test_each_feed_client_sees_every_post_once_in_order(
    frames: tuple[tuple[int, int], ...], kind: str
) -> None:
    records, db = clean()
    records = [r for r in records if r["type"] not in ("frame", "feed_open")] + feed(*frames)
    assert kind in kinds(check(records, db))


def test_a_gap_frame_excuses_missing_posts() -> None:
    records, db = clean()
    records = [r for r in records if r["type"] not in ("frame", "feed_open")] + feed((2, 2))
    records.append({"type": "gap", "client": "feed0", "after": 0, "at": 0.5})
    assert check(records, db) == []


@pytest.mark.parametrize("times", [0, 2])
def test_each_follower_gets_exactly_one_notification_per_post(times: int) -> None:
    records, db = clean()
    db.notifications[(FOLLOWER, 2)] = times
    assert kinds(check(records, db)) == {"notification"}


def test_an_outbox_not_drained_is_reported() -> None:
    records, db = clean()
    db.undone_events = 1
    assert kinds(check(records, db)) == {"outbox_not_drained"}


@pytest.mark.parametrize(
    ("record", "kind"),
    [
        (op("list", 500, 6.0), "server_error"),
        (op("list", 502, 6.0), "server_error"),
        (op("list", 503, 30.0, retry_after="2"), "503_outside_fault"),
        (op("list", 503, 6.0), "503_without_retry_after"),
        (op("list", None, 6.0, error="timeout: ReadTimeout"), "hang"),
        (op("list", None, 6.0, error="transport: ConnectError"), "transport_error"),
        (op("like", 404, 6.0, client="liker0", post=1), "unexpected_status"),
    ],
)
def test_answers_outside_the_rules_are_reported(record: Record, kind: str) -> None:
    records, db = clean()
    assert kinds(check([*records, record], db)) == {kind}


def test_a_503_in_the_grace_after_a_window_and_a_refused_connection_in_an_app_fault_pass() -> None:
    records, db = clean()
    late = op("list", 503, 15.0 + GRACE_SECONDS - 0.5, retry_after="2")
    refused = op("list", None, 40.5, error="transport: ConnectError")
    assert check([*records, late, fault("app_kill", 40.0, 42.0), refused], db) == []


def test_the_figures_count_writes_acknowledged_lost_and_duplicated_per_fault_kind() -> None:
    records, db = clean()
    records += [create("c", 3, 8.0)]  # acknowledged during the primary kill, then lost
    db.posts[4] = post(4, "b")  # key b, tried during the window, applied twice
    table = figures(records, db)["primary_kill"]
    assert (table.count, table.acknowledged, table.lost, table.duplicated) == (1, 1, 1, 1)
    assert table.first_write == pytest.approx([3.1])
