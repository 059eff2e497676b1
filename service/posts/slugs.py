"""URL slugs derived from titles: unique, assigned once by the posts service before insert."""

import re
import secrets
import unicodedata

from service.kit.db.errors import violated_unique
from service.posts.models import SLUG_MAX_LENGTH

SLUG_PATTERN = r"^[a-z0-9]+(?:-[a-z0-9]+)*$"
_BASE_MAX = SLUG_MAX_LENGTH - 8  # room for "-" + suffix
_ALPHABET = "abcdefghijklmnopqrstuvwxyz0123456789"
_SLUG_UNIQUE = {"uq_posts_slug", "posts.slug"}
"""How the slug's unique constraint is reported: its name (PostgreSQL), its column (SQLite)."""


def slugify(title: str) -> str:
    ascii_title = unicodedata.normalize("NFKD", title).encode("ascii", "ignore").decode()
    slug = re.sub(r"[^a-z0-9]+", "-", ascii_title.lower()).strip("-")
    return slug[:_BASE_MAX].rstrip("-") or "post"


def with_suffix(base: str) -> str:
    """`base-xxxxxx`: 36^6 (~2e9) suffixes, so a second collision is practically impossible."""
    return f"{base}-{''.join(secrets.choice(_ALPHABET) for _ in range(6))}"


def is_slug_conflict(error: BaseException) -> bool:
    return violated_unique(error) in _SLUG_UNIQUE


def unique_batch(titles: list[str], taken: set[str]) -> list[str]:
    """Slugs for a batch, unique among themselves and `taken`: suffix on any collision."""
    used = set(taken)
    slugs = []
    for title in titles:
        slug = slugify(title)
        while slug in used:
            slug = with_suffix(slugify(title))
        used.add(slug)
        slugs.append(slug)
    return slugs
