"""Response models built from trusted values: the one place that writes pydantic's private
attributes (pinned with the rest of this package to the installed pydantic)."""

from typing import Any, TypeVar

from pydantic import BaseModel

ResponseT = TypeVar("ResponseT", bound=BaseModel)


def construct(cls: type[ResponseT], fields: dict[str, Any]) -> ResponseT:
    """A response model from trusted values (typed database columns), with no validation.

    Equivalent to `model_construct`, and cheaper (docs/performance.md), only while `fields` names
    every field of `cls` in declaration order and `cls` has no private attributes and no
    `model_post_init` (tests/kit/test_construct.py)."""
    # object.__new__: SQLModel.__new__ would also set the three attributes set below.
    model: ResponseT = object.__new__(cls)
    _set(model, "__dict__", fields)
    _set(model, "__pydantic_fields_set__", set(fields))
    _set(model, "__pydantic_extra__", None)
    _set(model, "__pydantic_private__", None)
    return model


_set = object.__setattr__
