from typing import Any

from httpx import Response


def assert_problem(response: Response, status: int, *others: int) -> dict[str, Any]:
    """The response is an RFC 9457 problem with `status` (or one of `others`); returns its body."""
    statuses = (status, *others)
    assert response.status_code in statuses, (response.status_code, response.text)
    assert response.headers["content-type"].startswith("application/problem+json")
    body: dict[str, Any] = response.json()
    assert {"type", "title", "status", "detail"} <= body.keys()
    assert body["status"] == response.status_code
    return body
