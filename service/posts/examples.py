"""Request body examples of the posts API (shown by /docs, sent by schemathesis' examples phase)."""

from typing import Any

NEW_POST: dict[str, Any] = {
    "title": "Hello, Inkwell",
    "body": "My first post.",
    "status": "published",
    "tags": ["intro", "python"],
    "metadata": {"lang": "en"},
}

CREATE: dict[str, Any] = {
    "A published post": NEW_POST,
    "A draft": {"title": "Work in progress", "body": "Not yet."},
}

BULK_CREATE: dict[str, Any] = {
    "Two posts": {
        "items": [
            {"title": "One", "body": "First", "status": "published"},
            {"title": "Two", "body": "Second", "tags": ["bulk"]},
        ]
    }
}

BULK_STATUS: dict[str, Any] = {
    "Publish two posts": {
        "items": [{"id": 1, "status": "published"}, {"id": 2, "status": "published"}]
    },
    "Unpublish at a version": {"items": [{"id": 1, "status": "draft", "version": 2}]},
}

BULK_DELETE: dict[str, Any] = {"Delete two posts": {"items": [{"id": 1}, {"id": 2}]}}

UPDATE: dict[str, Any] = {
    "Publish a draft": {"status": "published"},
    "New title and tags": {"title": "Hello again", "tags": ["python"]},
}
