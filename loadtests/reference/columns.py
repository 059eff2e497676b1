"""The public columns of a post as the service selects them (author and tags included)."""

POST_COLUMNS = """
    p.id, p.slug, p.title, p.body, p.status, p.metadata, p.like_count, p.version,
    p.created_at, p.updated_at,
    u.id AS author_id, u.username, u.display_name, u.created_at AS author_created_at,
    ARRAY(
        SELECT t.name FROM post_tags pt JOIN tags t ON t.id = pt.tag_id
        WHERE pt.post_id = p.id ORDER BY t.name
    ) AS tags
"""
