"""Entity tags (RFC 9110 §8.8.3, §13.1.1-2): made from a body's bytes, compared both RFC ways.

A strong tag is the SHA-256 of the body truncated to 128 bits, the fastest hash `hashlib` has
here (its cost is in docs/performance.md)."""

import hashlib


def strong_etag(body: bytes | memoryview) -> str:
    """THE entity tag of a representation: `"<32 hex digits>"` (quoted, strong)."""
    return f'"{hashlib.sha256(body).hexdigest()[:32]}"'


def _tags(header: str) -> list[str]:
    # An entity tag never contains a comma in the tags this service makes, so a comma split is
    # exact for every tag that could match one of them (anything else simply does not match).
    return [tag.strip() for tag in header.split(",")]


def none_match(header: str, etag: str) -> bool:
    """`If-None-Match` is false (the client's copy is current): `*`, or a listed tag equal to
    `etag` by the WEAK comparison (`W/"x"` matches `"x"`), as RFC 9110 §13.1.2 requires."""
    if header.strip() == "*":
        return True
    return any(tag.removeprefix("W/") == etag for tag in _tags(header))


def match(header: str, etag: str) -> bool:
    """`If-Match` is true: `*`, or a listed tag equal to `etag` by the STRONG comparison
    (RFC 9110 §13.1.1): a weak tag `W/"..."` never matches."""
    if header.strip() == "*":
        return True
    return etag in _tags(header)
