"""Give a test account a role (moderator, admin) directly in the database."""

from sqlalchemy import update
from sqlalchemy.ext.asyncio import async_sessionmaker
from sqlmodel import col
from sqlmodel.ext.asyncio.session import AsyncSession

from service.users.models import Role, User
from tests.support.accounts import Account


async def promote(
    sessionmaker: async_sessionmaker[AsyncSession], account: Account, role: Role
) -> Account:
    async with sessionmaker() as session, session.begin():
        await session.exec(update(User).where(col(User.id) == account.id).values(role=role))
    account.user.role = role
    return account
