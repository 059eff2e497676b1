from httpx import AsyncClient

from tests.support.accounts import AccountFactory
from tests.support.api import API
from tests.support.statements import StatementCounter


async def test_user_list_runs_a_constant_number_of_statements(
    client: AsyncClient, make_account: AccountFactory, statements: StatementCounter
) -> None:
    for _ in range(6):
        await make_account()
    counts = []
    for limit in (1, 6):
        statements.count = 0
        response = await client.get(f"{API}/users", params={"limit": limit})
        assert len(response.json()["items"]) == limit
        counts.append(statements.count)
    assert counts[0] == counts[1], counts
