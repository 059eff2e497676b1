"""URL slugs derived from titles: unique, set once at insert by a mapper event."""

import re
import secrets
import unicodedata

from sqlalchemy import Table, event, exists, select
from sqlalchemy.engine import Connection
from sqlalchemy.orm import Mapper

from service.posts.models import SLUG_MAX_LENGTH, Post

POSTS: Table = Post.__table__  # type: ignore[attr-defined]
SLUG_PATTERN = r"^[a-z0-9]+(?:-[a-z0-9]+)*$"
_BASE_MAX = SLUG_MAX_LENGTH - 8  # room for "-" + suffix
_ALPHABET = "abcdefghijklmnopqrstuvwxyz0123456789"


def slugify(title: str) -> str:
    ascii_title = unicodedata.normalize("NFKD", title).encode("ascii", "ignore").decode()
    slug = re.sub(r"[^a-z0-9]+", "-", ascii_title.lower()).strip("-")
    return slug[:_BASE_MAX].rstrip("-") or "post"


def with_suffix(base: str) -> str:
    """`base-xxxxxx`: 36^6 (~2e9) suffixes, so a second collision is practically impossible."""
    return f"{base}-{''.join(secrets.choice(_ALPHABET) for _ in range(6))}"


def is_slug_conflict(error: Exception) -> bool:
    return "slug" in str(getattr(error, "orig", error))


@event.listens_for(Post, "before_insert")
def _assign_slug(_: Mapper[Post], connection: Connection, post: Post) -> None:
    if getattr(post, "slug", None):
        return
    base = slugify(post.title)
    taken = connection.scalar(select(exists().where(POSTS.c.slug == base)))
    # A concurrent insert of the same slug can still win the race: the unique constraint
    # catches it and the service retries with a suffix (service.posts.service.create).
    post.slug = with_suffix(base) if taken else base


def unique_batch(titles: list[str], taken: set[str]) -> list[str]:
    """Slugs for a batch (bulk insert bypasses the mapper event): suffix on any collision."""
    used = set(taken)
    slugs = []
    for title in titles:
        slug = slugify(title)
        while slug in used:
            slug = with_suffix(slugify(title))
        used.add(slug)
        slugs.append(slug)
    return slugs
