from datetime import datetime

from service.posts.schemas import PostPublic


class BookmarkedPost(PostPublic):
    """A post of your reading list (`bookmarked` is always true here) and when you saved it."""

    bookmarked_at: datetime
