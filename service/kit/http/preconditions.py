"""`If-Match` as a kit/preconditions.py `Precondition` (RFC 9110 §13.1.1)."""

from dataclasses import dataclass

from pydantic import BaseModel

from service.kit.http import etags
from service.kit.http.responses import representation_etag


@dataclass(frozen=True, slots=True)
class IfMatch:
    """Holds when the header is absent, `*`, or names the ETag a GET of `representation` sends,
    by the strong comparison (a weak `W/` tag never matches)."""

    header: str | None

    def holds(self, representation: BaseModel) -> bool:
        if self.header is None:
            return True
        return etags.match(self.header, representation_etag(representation))
