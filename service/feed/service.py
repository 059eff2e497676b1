"""The home feed: what the authors you follow published, newest first. Never writes."""

from sqlalchemy.ext.asyncio import AsyncConnection

from service.feed import queries
from service.kit.pagination import Page, Pager
from service.posts.representation import to_public
from service.posts.schemas import PostPublic
from service.users.models import User


async def feed(reader: AsyncConnection, *, user: User, pager: Pager) -> Page[PostPublic]:
    assert user.id is not None
    rows = await queries.page_rows(
        reader, viewer_id=user.id, after=pager.after(queries.NEWEST), limit=pager.limit
    )
    items, next_cursor = pager.page(rows, queries.NEWEST)
    return Page(items=to_public(items), next_cursor=next_cursor)
