"""JSON responses serialized straight from a pydantic model.

A route that returns a model has FastAPI validate it again against `response_model`, then
serialize it: for a read built from database rows (already typed) that validation is pure cost,
about a third of a hot read's CPU. A route that returns `ModelResponse(model)` skips it; its
decorator still declares `response_model`, so the OpenAPI document is the same.
"""

from collections.abc import Mapping

from pydantic import BaseModel
from starlette.background import BackgroundTask
from starlette.responses import Response


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

    def render(self, content: object) -> bytes:
        assert isinstance(content, BaseModel)
        return content.__pydantic_serializer__.to_json(content, by_alias=True)
