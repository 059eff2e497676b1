"""The revisions of a post: list, read one, restore one (owner or moderator; others: 404)."""

from fastapi import APIRouter, Response

from service.database.session import ReadSessionDep, SessionDep
from service.kit.http.answers import ETAG, declares, error_responses, success_headers
from service.kit.http.preconditions import IfMatch
from service.kit.http.responses import representation_etag
from service.kit.http.routing import Route
from service.kit.pagination import BAD_CURSOR, Page, PagerDep
from service.kit.schemas import IdPath
from service.posts.events import PublisherDep
from service.posts.revisions import service
from service.posts.revisions.schemas import RevisionPublic, RevisionSummary
from service.posts.router import STALE, IfMatchHeader
from service.posts.schemas import PostPublic
from service.users.dependencies import CurrentUser, SignedInUser, WriteRateLimit

router = APIRouter(prefix="/posts", tags=["posts"], route_class=Route)

WHO = "Your own post's, or any post's for a moderator; anyone else gets a 404 (as for a draft)."


@router.get(
    "/{post_id:id}/revisions",
    response_model=Page[RevisionSummary],
    summary="List a post's revisions",
    description="The former states of the post's title, body, tags and metadata, newest first, "
    "a keyset page at a time: `{number, title, excerpt, edited_at, editor}` (`edited_at` and "
    f"`editor`: the edit that replaced that state). {WHO}",
)
@declares(BAD_CURSOR)
async def list_revisions(
    post_id: IdPath, user: SignedInUser, session: ReadSessionDep, pager: PagerDep
) -> Page[RevisionSummary]:
    return await service.list_revisions(session, post_id=post_id, user=user, pager=pager)


@router.get(
    "/{post_id:id}/revisions/{number:id}",
    response_model=RevisionPublic,
    summary="Read a revision",
    description=f"The whole former state: title, body, tags, metadata. {WHO}",
    responses=error_responses(service.NO_REVISION),
)
async def read_revision(
    post_id: IdPath, number: IdPath, user: SignedInUser, session: ReadSessionDep
) -> RevisionPublic:
    return await service.read_revision(session, post_id=post_id, number=number, user=user)


@router.post(
    "/{post_id:id}/revisions/{number:id}/restore",
    response_model=PostPublic,
    dependencies=[WriteRateLimit],
    summary="Restore a revision",
    description="A new edit by the owner that brings the revision's title, body, tags and "
    "metadata back; the content it replaces becomes a revision in turn. Bumps `version`; "
    "`If-Match` as for `PATCH`. A moderator may read revisions but not restore one (403).",
    responses=error_responses(service.NO_REVISION, service.NOT_YOURS, STALE)
    | success_headers(200, ETAG),
)
async def restore_revision(
    post_id: IdPath,
    number: IdPath,
    user: CurrentUser,
    session: SessionDep,
    publisher: PublisherDep,
    response: Response,
    if_match: IfMatchHeader = None,
) -> PostPublic:
    post = await service.restore(
        session,
        publisher,
        post_id=post_id,
        number=number,
        user=user,
        precondition=IfMatch(if_match),
    )
    response.headers["ETag"] = representation_etag(post)
    return post
