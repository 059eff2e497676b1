"""The bytes of a representation and their entity tag, as a route sends them."""

from pydantic import BaseModel

from service.kit.http.etags import strong_etag


def render(model: BaseModel) -> bytes:
    """The JSON bytes of a representation, as the route class renders a returned model."""
    return model.model_dump_json(by_alias=True).encode()


def representation_etag(model: BaseModel) -> str:
    """The `ETag` the response that sends `model` carries (`HttpCaching` hashes those bytes)."""
    return strong_etag(render(model))
