"""Same work for every target: the JSON of the reference and idiomatic apps must equal the
service's on live responses (a few concrete paths per probe), or their ratio means nothing."""

import json
import urllib.error
import urllib.request
import uuid
from typing import Any


def fetch(url: str, headers: dict[str, str] | None = None) -> tuple[int, Any]:
    try:
        request = urllib.request.Request(url, headers=headers or {})
        with urllib.request.urlopen(request, timeout=10) as response:
            return response.status, json.load(response)
    except urllib.error.HTTPError as error:
        return error.code, None


def first_difference(expected: Any, actual: Any, where: str = "$") -> str | None:
    """A JSON path and both values where `actual` first differs from `expected`, or None."""
    if isinstance(expected, dict) and isinstance(actual, dict):
        for key in expected.keys() | actual.keys():
            if key not in actual or key not in expected:
                side = "missing" if key not in actual else "extra"
                return f"{where}.{key}: {side} key"
            found = first_difference(expected[key], actual[key], f"{where}.{key}")
            if found:
                return found
        return None
    if isinstance(expected, list) and isinstance(actual, list):
        if len(expected) != len(actual):
            return f"{where}: {len(actual)} items, the service has {len(expected)}"
        for i, (e, a) in enumerate(zip(expected, actual, strict=True)):
            found = first_difference(e, a, f"{where}[{i}]")
            if found:
                return found
        return None
    if expected != actual or type(expected) is not type(actual):
        return f"{where}: {json.dumps(actual)[:80]} != service {json.dumps(expected)[:80]}"
    return None


def compare(
    service: str, other: str, paths: list[str], headers: dict[str, str] | None = None
) -> str | None:
    """None when `other` answers every path exactly as the service does (sending `headers`)."""
    for path in paths:
        want_status, want = fetch(service + path, headers)
        got_status, got = fetch(other + path, headers)
        if want_status != 200:
            return f"{path}: the service answered {want_status}"
        if got_status != want_status:
            return f"{path}: HTTP {got_status}, the service {want_status}"
        found = first_difference(want, got)
        if found:
            return f"{path}: {found}"
    return None


VOLATILE = ("id", "slug", "title", "created_at", "updated_at")
"""What two writes of the same body may differ in: their ids, titles (unique per request) and
times; the rest of the answer (author, status, counts, metadata, tags) must be the same."""


def written(url: str, method: str, body: str, token: str) -> tuple[int, Any]:
    headers = {"Authorization": f"Bearer {token}", "Content-Type": "application/json"}
    request = urllib.request.Request(url, data=body.encode(), headers=headers, method=method)
    try:
        with urllib.request.urlopen(request, timeout=10) as response:
            return response.status, json.load(response)
    except urllib.error.HTTPError as error:
        return error.code, None


def compare_write(
    service: str, other: str, path: str, method: str, body: str, token: str
) -> str | None:
    """None when `other` answers the same write as the service does, volatile fields aside."""
    run = uuid.uuid4().hex[:12]  # titles (and so slugs) unique per check and per target
    want_status, want = written(service + path, method, body.replace("{n}", f"s-{run}"), token)
    got_status, got = written(other + path, method, body.replace("{n}", f"o-{run}"), token)
    if want_status >= 300:
        return f"{method} {path}: the service answered {want_status}"
    if got_status != want_status:
        return f"{method} {path}: HTTP {got_status}, the service {want_status}"
    for answer in (want, got):
        for key in VOLATILE:
            answer.pop(key, None)
    found = first_difference(want, got)
    return None if found is None else f"{method} {path}: {found}"
