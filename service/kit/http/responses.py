"""JSON responses serialized straight from a pydantic model, with their entity tag.

A route that returns a model has FastAPI validate it again against `response_model`, then
serialize it: for a read built from database rows (already typed) that validation is pure cost,
about a third of a hot read's CPU. A route that returns `ModelResponse(model)` skips it; its
decorator still declares `response_model`, so the OpenAPI document is the same.

The body is the representation, so the response carries its strong `ETag` (the hash of exactly
these bytes). `representation_etag(model)` is the same tag for a model that is not sent (the
write path compares `If-Match` with it): one serialization, one hash, one place.
"""

from collections.abc import Mapping

from pydantic import BaseModel
from starlette.background import BackgroundTask
from starlette.responses import Response

from service.kit.http.etags import strong_etag


def render(model: BaseModel) -> bytes:
    """The JSON bytes of a representation, as `ModelResponse` sends them."""
    return model.__pydantic_serializer__.to_json(model, by_alias=True)


def representation_etag(model: BaseModel) -> str:
    """The `ETag` a `ModelResponse(model)` carries."""
    return strong_etag(render(model))


class ModelResponse(Response):
    media_type = "application/json"

    def __init__(
        self,
        content: BaseModel,
        status_code: int = 200,
        headers: Mapping[str, str] | None = None,
        background: BackgroundTask | None = None,
    ) -> None:
        super().__init__(content, status_code, headers, None, background)
        self.headers.setdefault("etag", strong_etag(self.body))

    def render(self, content: object) -> bytes:
        assert isinstance(content, BaseModel)
        return render(content)
