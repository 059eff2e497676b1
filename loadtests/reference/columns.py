"""The public columns of a post as the service selects them (author and tags included), and
how the service writes their times."""

from datetime import datetime

POST_COLUMNS = """
    p.id, p.slug, p.title, p.body, p.status, p.publish_at, p.metadata, p.like_count, p.version,
    p.created_at, p.updated_at,
    u.id AS author_id, u.username, u.display_name, u.created_at AS author_created_at,
    ARRAY(
        SELECT t.name FROM post_tags pt JOIN tags t ON t.id = pt.tag_id
        WHERE pt.post_id = p.id ORDER BY t.name
    ) AS tags
"""


def when(value: datetime) -> str:
    """A timestamp as the service's JSON writes it (UTC, `Z`)."""
    return value.isoformat().replace("+00:00", "Z")


def maybe_when(value: datetime | None) -> str | None:
    """A nullable timestamp (a post's `publish_at`) as the service's JSON writes it."""
    return None if value is None else when(value)
