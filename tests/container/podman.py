"""The podman CLI for the container tests: typed, bounded in time, failing with its output."""

import asyncio
import shutil
import time
from dataclasses import dataclass

from tests.support import databases
from tests.support.paths import ROOT

BASE_IMAGE = "docker.io/library/python:3.11-slim-bookworm"


@dataclass(frozen=True)
class Result:
    code: int
    out: str
    err: str


async def run(*args: str, check: bool = True, seconds: float = 600) -> Result:
    """`podman ARGS` from the repository root; with `check`, a non-zero exit fails the test."""
    process = await asyncio.create_subprocess_exec(
        "podman",
        *args,
        cwd=ROOT,
        stdout=asyncio.subprocess.PIPE,
        stderr=asyncio.subprocess.PIPE,
    )
    try:
        out, err = await asyncio.wait_for(process.communicate(), seconds)
    except TimeoutError:
        process.kill()
        await process.wait()
        raise AssertionError(f"podman {' '.join(args)} timed out after {seconds} s") from None
    code = process.returncode or 0
    result = Result(code, out.decode(errors="replace"), err.decode(errors="replace"))
    if check and result.code != 0:
        raise AssertionError(f"podman {' '.join(args)} exited {result.code}:\n{result.err[-3000:]}")
    return result


async def require_podman() -> None:
    """podman and the base image (../shared/container/base-image.sh) must be there; under
    CI=true their absence fails the run instead of skipping it."""
    if shutil.which("podman") is None:
        databases.unavailable("podman is not installed (run shared/container/base-image.sh)")
    if (await run("image", "exists", BASE_IMAGE, check=False)).code != 0:
        databases.unavailable(f"no {BASE_IMAGE} (run shared/container/base-image.sh)")


async def build(tag: str, context: str = ".", *options: str) -> float:
    """Build with layer caching and the Docker image format (which keeps HEALTHCHECK);
    returns the seconds it took."""
    started = time.monotonic()
    await run(
        "build", "--quiet", "--format", "docker", "--network", "host", "-t", tag, *options, context
    )
    return time.monotonic() - started


async def image_size(tag: str) -> int:
    return int((await run("image", "inspect", "--format", "{{.Size}}", tag)).out)


async def remove(*containers: str) -> None:
    await run("rm", "--force", "--ignore", *containers, check=False)
