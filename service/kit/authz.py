"""Object-level authorization: the one check every endpoint that takes an object id goes through.

A caller who may not know the object exists (missing, a draft, soft-deleted) gets 404, so ids
cannot be probed; a visible object that belongs to someone else is 403."""

from collections.abc import Callable
from typing import Protocol, TypeVar

from service.kit.errors import Forbidden, NotFound


class Principal(Protocol):
    @property
    def id(self) -> int | None: ...


T = TypeVar("T")
P = TypeVar("P", bound=Principal)

Policy = Callable[[T, P], bool]
"""A predicate: may this principal act on (or see) this object?"""


def authorize(
    obj: T | None,
    principal: P,
    *,
    allow: Policy[T, P],
    visible: Policy[T, P] | None = None,
    what: str = "object",
) -> T:
    """Return `obj` when `allow(obj, principal)`; else 404 (missing or invisible) or 403."""
    if obj is None or (visible is not None and not visible(obj, principal)):
        raise NotFound(f"No such {what}.")
    if principal.id is None or not allow(obj, principal):
        raise Forbidden(f"You may not change this {what}.")
    return obj


def owned_by(attribute: str = "author_id") -> Policy[object, Principal]:
    """Policy: the object's `attribute` holds the principal's id."""

    def _owns(obj: object, principal: Principal) -> bool:
        return principal.id is not None and getattr(obj, attribute) == principal.id

    return _owns


def ensure_owner(
    obj: T | None,
    principal: P,
    *,
    owner_attribute: str = "author_id",
    visible: Policy[T, P] | None = None,
    what: str = "object",
) -> T:
    """The common case: only the owner (`obj.<owner_attribute> == principal.id`) may act."""
    return authorize(obj, principal, allow=owned_by(owner_attribute), visible=visible, what=what)
