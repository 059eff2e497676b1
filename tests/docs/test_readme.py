"""README "First requests": its bash blocks, run as written against a real server.

The server is `python -m service.serve` on a migrated database, as `make run` starts it (the
development environment, the default rate limits). The blocks run in ONE bash, in order, as a
reader pastes them into one terminal; each block's output is checked.
"""

import asyncio
import json
import os
import re
import sys
from collections.abc import Callable
from pathlib import Path
from typing import Any

from service.settings import Settings
from tests.support.migrations import backend_database
from tests.support.paths import ROOT
from tests.support.servers import Service, running_service

SECTION = "## First requests"
MARK = "@@ end of block @@"


def readme_blocks() -> list[str]:
    """The ```bash blocks of the README section, in order."""
    text = (ROOT / "README.md").read_text(encoding="utf-8")
    start = text.index(f"\n{SECTION}\n")
    end = text.find("\n## ", start + 1)
    section = text[start : end if end != -1 else len(text)]
    return re.findall(r"^```bash\n(.*?)^```$", section, re.MULTILINE | re.DOTALL)


def answer(output: str) -> Any:
    """The JSON document a block printed (curl prints no trailing newline)."""
    return json.loads(output.strip().splitlines()[-1])


def check_health(output: str, _: dict[str, Any]) -> None:
    assert answer(output)["status"] == "ok"


def check_register(output: str, _: dict[str, Any]) -> None:
    user = answer(output)
    assert (user["username"], user["email"], user["role"]) == (
        "alice",
        "alice@example.com",
        "member",
    )


def check_login(output: str, _: dict[str, Any]) -> None:
    assert re.fullmatch(r"token: eyJ[\w-]{9}\.\.\.", output.strip()), output


def check_json_login_refused(output: str, _: dict[str, Any]) -> None:
    problem = answer(output)
    assert problem["status"] == 422
    assert {tuple(e["loc"]) for e in problem["errors"]} == {
        ("body", "username"),
        ("body", "password"),
    }


def check_create(output: str, seen: dict[str, Any]) -> None:
    post = answer(output)
    assert (post["status"], post["title"], post["tags"]) == (
        "published",
        "Hello, Inkwell",
        ["intro"],
    )
    seen["post_id"] = post["id"]


def check_list(output: str, seen: dict[str, Any]) -> None:
    page = answer(output)
    assert [p["id"] for p in page["items"]] == [seen["post_id"]]
    assert page["next_cursor"] is None


def check_like(output: str, seen: dict[str, Any]) -> None:
    assert answer(output) == {"post_id": seen["post_id"], "liked": True, "like_count": 1}


def check_comment(output: str, seen: dict[str, Any]) -> None:
    comment = answer(output)
    assert (comment["post_id"], comment["body"]) == (seen["post_id"], "First!")
    assert comment["author"]["username"] == "alice"


def check_bookmark(output: str, seen: dict[str, Any]) -> None:
    assert output.strip().splitlines()[0] == "204", output
    page = answer(output)
    assert [(p["id"], p["bookmarked"]) for p in page["items"]] == [(seen["post_id"], True)]
    assert page["items"][0]["bookmarked_at"]


def check_home_feed(output: str, seen: dict[str, Any]) -> None:
    page = answer(output)
    assert [(p["id"], p["bookmarked"]) for p in page["items"]] == [(seen["post_id"], False)]
    assert page["next_cursor"] is None


def check_feed(output: str, seen: dict[str, Any]) -> None:
    frame = answer(output)
    assert (frame["type"], frame["post"]["id"]) == ("post.published", seen["post_id"])


def check_schedule(output: str, seen: dict[str, Any]) -> None:
    post = answer(output)
    assert (post["status"], post["title"]) == ("scheduled", "Later")
    assert post["publish_at"]
    seen["scheduled_id"] = post["id"]


def check_scheduled_published(output: str, seen: dict[str, Any]) -> None:
    assert output.strip().splitlines()[0] == "404", output
    page = answer(output)
    newest = page["items"][0]
    assert (newest["id"], newest["status"]) == (seen["scheduled_id"], "published")


STEPS: list[Callable[[str, dict[str, Any]], None]] = [
    check_health,
    check_register,
    check_login,
    check_json_login_refused,
    check_create,
    check_list,
    check_like,
    check_comment,
    check_bookmark,
    check_home_feed,
    check_feed,
    check_schedule,
    check_scheduled_published,
]
"""One check per README block, in order: a block added without its check fails the test."""


def reader_checkout(tmp_path: Path) -> Path:
    """A working directory whose `.venv/bin/python` is this interpreter (the README calls it)."""
    checkout = tmp_path / "checkout"
    (checkout / ".venv" / "bin").mkdir(parents=True)
    python = checkout / ".venv" / "bin" / "python"
    python.write_text(f'#!/bin/sh\nexec "{sys.executable}" "$@"\n')
    python.chmod(0o755)
    return checkout


async def run_blocks(blocks: list[str], service: Service, cwd: Path) -> tuple[list[str], str]:
    """Each finished block's output, and what went wrong if one failed ('' when none did)."""
    script = "set -euo pipefail\n" + "".join(f"{b}printf '\\n{MARK}\\n'\n" for b in blocks)
    process = await asyncio.create_subprocess_exec(
        "bash",
        "-c",
        script,
        cwd=cwd,
        env=os.environ | {"BASE": service.url},
        stdout=asyncio.subprocess.PIPE,
        stderr=asyncio.subprocess.PIPE,
    )
    out, err = await asyncio.wait_for(process.communicate(), 120)
    *finished, _ = out.decode().split(f"\n{MARK}\n")
    failure = ""
    if process.returncode != 0:
        failure = f"block {len(finished) + 1} exited {process.returncode}: {err.decode()}"
    return finished, failure


def test_the_section_has_one_check_per_block() -> None:
    assert len(readme_blocks()) == len(STEPS)


async def test_first_requests_run_as_written(backend: str, tmp_path: Path) -> None:
    blocks = readme_blocks()
    defaults = Settings.model_fields
    env = {
        "ENVIRONMENT": "development",
        "WRITE_RATE_LIMIT": str(defaults["write_rate_limit"].default),
        "SEARCH_RATE_LIMIT": str(defaults["search_rate_limit"].default),
    }
    async with (
        backend_database(backend, tmp_path, "readme") as url,
        running_service(url, tmp_path / "service.log", env=env) as service,
    ):
        outputs, failure = await run_blocks(blocks, service, reader_checkout(tmp_path))
        log = service.log_tail()
    seen: dict[str, Any] = {}
    # outputs stop at a failed block: the checks before it say more than its exit code
    for number, (block, output, check) in enumerate(zip(blocks, outputs, STEPS, strict=False), 1):
        try:
            check(output, seen)
        except (AssertionError, ValueError, KeyError, IndexError) as error:
            raise AssertionError(f"README block {number}:\n{block}\nprinted:\n{output}") from error
    assert not failure, f"{failure}\nservice log:\n{log}"
    assert len(outputs) == len(blocks)
