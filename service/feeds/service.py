"""Atom 1.0 feeds of the latest published posts, built with feedgen. The document depends only
on the posts (its `updated` is the newest post's), so its strong ETag changes only when they do."""

import re
from collections.abc import Sequence
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any

from feedgen.feed import FeedGenerator
from sqlmodel.ext.asyncio.session import AsyncSession

from service.feeds import repository
from service.users import service as users

LIMIT = 50
EPOCH = datetime(2000, 1, 1, tzinfo=UTC)
_NOT_XML = re.compile("[^\u0009\u000a\u000d\u0020-\ud7ff\ue000-\ufffd\U00010000-\U0010ffff]")


@dataclass(frozen=True)
class Feed:
    document: bytes
    last_modified: datetime
    """The newest change among its posts (whole seconds: what an HTTP date can say)."""


def _xml(text: str | None) -> str:
    """Text an XML 1.0 document can hold (control characters dropped)."""
    return _NOT_XML.sub("", text or "")


def _utc(moment: datetime) -> datetime:
    return moment.replace(tzinfo=UTC) if moment.tzinfo is None else moment.astimezone(UTC)


def build(rows: Sequence[Any], *, base_url: str, path: str, title: str) -> Feed:
    newest = max((_utc(r.updated_at) for r in rows), default=EPOCH).replace(microsecond=0)
    feed = FeedGenerator()
    feed.id(f"{base_url}{path}")
    feed.title(_xml(title))
    feed.link(href=f"{base_url}{path}", rel="self", type="application/atom+xml")
    feed.link(href=f"{base_url}/api/v1/posts", rel="alternate", type="application/json")
    feed.updated(newest)
    for row in reversed(rows):  # feedgen puts each new entry first: newest ends on top
        entry = feed.add_entry()
        url = f"{base_url}/api/v1/posts/{row.id}"
        entry.id(url)
        entry.title(_xml(row.title) or "(untitled)")
        entry.link(href=url, rel="alternate", type="application/json")
        entry.author(name=_xml(row.display_name or row.username))
        entry.published(_utc(row.created_at))
        entry.updated(_utc(row.updated_at))
        entry.content(_xml(row.body), type="text")
    return Feed(feed.atom_str(pretty=False), newest)


async def all_posts(session: AsyncSession, *, base_url: str, path: str) -> Feed:
    rows = await repository.latest(session, limit=LIMIT)
    return build(rows, base_url=base_url, path=path, title="Inkwell: latest posts")


async def by_author(session: AsyncSession, *, user_id: int, base_url: str, path: str) -> Feed:
    author = await users.get(session, user_id)  # 404 for an unknown user
    rows = await repository.latest(session, limit=LIMIT, author_id=user_id)
    name = author.display_name or author.username
    return build(rows, base_url=base_url, path=path, title=f"Inkwell: posts by {name}")


async def by_tag(session: AsyncSession, *, name: str, base_url: str, path: str) -> Feed:
    rows = await repository.latest(session, limit=LIMIT, tag=name.strip().lower())
    return build(rows, base_url=base_url, path=path, title=f"Inkwell: posts tagged {name}")
