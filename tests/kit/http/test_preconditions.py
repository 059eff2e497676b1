"""`IfMatch`: the `If-Match` precondition a router hands to a service (RFC 9110 §13.1.1)."""

from pydantic import BaseModel

from service.kit.http.preconditions import IfMatch
from service.kit.http.responses import representation_etag
from service.kit.preconditions import Precondition


class Thing(BaseModel):
    name: str


THING = Thing(name="a")
TAG = representation_etag(THING)


def test_no_header_and_star_always_hold() -> None:
    assert IfMatch(None).holds(THING)
    assert IfMatch(" * ").holds(THING)


def test_the_current_tag_holds_alone_or_in_a_list() -> None:
    assert IfMatch(TAG).holds(THING)
    assert IfMatch(f'"other", {TAG}').holds(THING)


def test_a_weak_or_another_tag_never_holds() -> None:
    assert not IfMatch(f"W/{TAG}").holds(THING)
    assert not IfMatch(representation_etag(Thing(name="b"))).holds(THING)
    assert not IfMatch("garbage").holds(THING)


def test_if_match_is_a_precondition() -> None:
    precondition: Precondition = IfMatch(TAG)
    assert precondition.holds(THING)
