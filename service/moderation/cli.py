"""`python -m service.moderation.cli make-admin NAME` (`make admin username=NAME`)."""

import argparse
import asyncio
import sys

from service.database.engines import create_engine, make_sessionmaker
from service.database.session import own_transaction
from service.kit.errors import NotFound
from service.settings import get_settings


async def _make_admin(username: str) -> int:
    from service import models  # noqa: F401  (the whole mapper)
    from service.moderation.service import make_admin

    settings = get_settings()
    engine = create_engine(settings.database_url, settings, role="cli")
    try:
        async with own_transaction(make_sessionmaker(engine)) as session:
            user = await make_admin(session, username)
    except NotFound as error:
        print(f"inkwell: {error.detail}", file=sys.stderr)  # noqa: T201
        return 1
    finally:
        await engine.dispose()
    print(f"{user.username} (id {user.id}) is now an admin")  # noqa: T201
    return 0


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m service.moderation.cli")
    commands = parser.add_subparsers(dest="command", required=True)
    admin = commands.add_parser("make-admin", help="give an existing user the admin role")
    admin.add_argument("username")
    args = parser.parse_args(argv)
    return asyncio.run(_make_admin(args.username))


if __name__ == "__main__":
    raise SystemExit(main())
