from datetime import datetime
from email.utils import format_datetime, parsedate_to_datetime
from typing import Annotated, Any
from urllib.parse import quote

from fastapi import APIRouter, Header, Path, Request, Response

from service.database.session import ReadSessionDep
from service.feeds import service
from service.feeds.service import Feed
from service.kit.errors import NotFound
from service.kit.http.answers import error_responses
from service.kit.http.routing import Route
from service.kit.schemas import IdPath

router = APIRouter(tags=["feeds"], route_class=Route)
ATOM = "application/atom+xml"
IfModifiedSince = Annotated[
    str | None,
    Header(max_length=64, description="an HTTP date: 304 unless a post changed since then"),
]
TagName = Annotated[str, Path(min_length=1, max_length=64)]
ANSWER: dict[int | str, dict[str, Any]] = {
    200: {
        "description": "An Atom 1.0 feed (with `ETag` and `Last-Modified`).",
        "content": {ATOM: {"schema": {"type": "string"}}},
        "headers": {
            "Last-Modified": {
                "description": "When the newest of its posts last changed.",
                "required": True,
                "schema": {"type": "string"},
            }
        },
    },
    304: {"description": "Not Modified: the copy named by the conditional headers is current."},
}


def _not_modified_since(feed: Feed, since: str | None) -> bool:
    if since is None:
        return False
    try:
        moment: datetime = parsedate_to_datetime(since)
    except (TypeError, ValueError, IndexError, OverflowError):
        return False  # an unreadable date is ignored (RFC 9110 13.1.3)
    return moment.tzinfo is not None and feed.last_modified <= moment


def _answer(feed: Feed, request: Request, since: str | None) -> Response:
    headers = {"Last-Modified": format_datetime(feed.last_modified, usegmt=True)}
    # If-None-Match wins over If-Modified-Since; the ETag and its 304 are kit/http/caching.py's.
    if "if-none-match" not in request.headers and _not_modified_since(feed, since):
        return Response(status_code=304, headers=headers)
    return Response(feed.document, media_type=ATOM, headers=headers)


def _base(request: Request) -> str:
    return str(request.base_url).rstrip("/")


def _path(request: Request) -> str:
    """The path as a URL spells it (a tag may hold any character; the feed's id may not)."""
    return quote(request.url.path, safe="/")


@router.get(
    "/feeds/posts.atom",
    response_class=Response,
    responses=ANSWER,
    summary="Atom feed of the latest posts",
    description="The latest 50 published posts, newest first, as Atom 1.0.",
)
async def all_posts(
    request: Request, session: ReadSessionDep, if_modified_since: IfModifiedSince = None
) -> Response:
    feed = await service.all_posts(session, base_url=_base(request), path=_path(request))
    return _answer(feed, request, if_modified_since)


@router.get(
    "/users/{user_id:id}/posts.atom",
    response_class=Response,
    responses=ANSWER | error_responses(NotFound("No such user.")),
    summary="Atom feed of a user's posts",
    description="The user's latest 50 published posts, newest first, as Atom 1.0.",
)
async def user_posts(
    user_id: IdPath,
    request: Request,
    session: ReadSessionDep,
    if_modified_since: IfModifiedSince = None,
) -> Response:
    feed = await service.by_author(
        session, user_id=user_id, base_url=_base(request), path=_path(request)
    )
    return _answer(feed, request, if_modified_since)


@router.get(
    "/tags/{name}/posts.atom",
    response_class=Response,
    responses=ANSWER,
    summary="Atom feed of a tag's posts",
    description="The latest 50 published posts with this tag, newest first, as Atom 1.0 "
    "(an unknown tag has an empty feed).",
)
async def tag_posts(
    name: TagName,
    request: Request,
    session: ReadSessionDep,
    if_modified_since: IfModifiedSince = None,
) -> Response:
    feed = await service.by_tag(session, name=name, base_url=_base(request), path=_path(request))
    return _answer(feed, request, if_modified_since)
