"""Test accounts: the `Account` a `make_account` fixture returns, and its typed factory."""

from dataclasses import dataclass
from typing import Protocol

from service.users.models import User

PASSWORD = "correct horse battery"
"""The password of every account the suite creates."""


@dataclass
class Account:
    user: User
    headers: dict[str, str]

    @property
    def id(self) -> int:
        assert self.user.id is not None
        return self.user.id


class AccountFactory(Protocol):
    """The `make_account` fixture: a new user (a generated name unless given) and its token."""

    async def __call__(self, username: str | None = None) -> Account: ...
