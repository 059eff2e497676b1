import re
from collections.abc import Sequence
from typing import Annotated

from pydantic import Field

from service.kit.schemas import ResponseModel
from service.tags.models import TAG_MAX_LENGTH

MAX_TAGS_PER_POST = 10
_SPACES = re.compile(r"\s+")
_ALLOWED = re.compile(r"^[\w][\w .+#-]*$")

TagInput = Annotated[
    str,
    Field(
        min_length=1,
        max_length=TAG_MAX_LENGTH,
        # Spaces spelled out: ECMA-262's `\s` has U+FEFF, which Python's (the check) has not.
        json_schema_extra={"pattern": r"^[ \t\n\r]*\w[\w \t\n\r.+#-]*$"},
        description="trimmed, lowercased, inner spaces collapsed",
    ),
]
"""One tag as a client sends it; `normalise_tags` gives the stored form."""


def normalise_tags(values: Sequence[str]) -> list[str]:
    """Lowercase, trim, collapse spaces, de-duplicate (first wins); ValueError when invalid."""
    names: list[str] = []
    for value in values:
        name = _SPACES.sub(" ", value.strip().lower())
        if not name:
            raise ValueError("a tag may not be empty")
        if len(name) > TAG_MAX_LENGTH:
            raise ValueError(f"a tag is at most {TAG_MAX_LENGTH} characters")
        if not _ALLOWED.match(name):
            raise ValueError("a tag holds letters, digits, spaces and . + # - _ only")
        if name not in names:
            names.append(name)
    if len(names) > MAX_TAGS_PER_POST:
        raise ValueError(f"at most {MAX_TAGS_PER_POST} tags per post")
    return names


class TagPublic(ResponseModel):
    name: str
    post_count: int
