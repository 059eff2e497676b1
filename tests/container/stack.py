"""The compose.local.yaml stack as the compose test sees it: containers, SQL, per-app metrics."""

import asyncio
import re

from tests.container import podman
from tests.support.paths import ROOT

PROJECT = "inkwell-ctest"
PROXY = "http://127.0.0.1:58080"
FEED = "ws://127.0.0.1:58080/api/v1/ws/posts"
APPS = ("app1", "app2")
_SAMPLE = re.compile(r"^(?P<name>[a-z_]+)(?:\{(?P<labels>[^}]*)\})? (?P<value>\S+)$")


def container(service: str) -> str:
    return f"{PROJECT}_{service}_1"


async def script(name: str, seconds: float) -> str:
    """Run deploy/local-images/<name> for this project; returns its output."""
    process = await asyncio.create_subprocess_exec(
        str(ROOT / "deploy" / "local-images" / name),
        env={"COMPOSE_PROJECT": PROJECT, "PATH": "/usr/local/bin:/usr/bin:/bin:/usr/sbin:/sbin"},
        stdout=asyncio.subprocess.PIPE,
        stderr=asyncio.subprocess.STDOUT,
    )
    out, _ = await asyncio.wait_for(process.communicate(), seconds)
    text = out.decode(errors="replace")
    assert process.returncode == 0, f"{name} exited {process.returncode}:\n{text[-4000:]}"
    return text


async def sql(node: str, statement: str) -> list[str]:
    """Rows of `statement` run by psql inside the `primary` or `replica` container."""
    result = await podman.run(
        "exec", container(node), "psql", "-U", "inkwell", "-d", "inkwell", "-Atc", statement
    )
    return result.out.splitlines()


async def metric(app: str, name: str, labels: str = "") -> float:
    """One sample of an app's /metrics (scraped inside its container: nginx hides it)."""
    scrape = (
        "import urllib.request;"
        "print(urllib.request.urlopen('http://127.0.0.1:8000/metrics').read().decode())"
    )
    result = await podman.run("exec", container(app), "python", "-c", scrape)
    for line in result.out.splitlines():
        match = _SAMPLE.match(line)
        if match and match["name"] == name and (match["labels"] or "") == labels:
            return float(match["value"])
    return 0.0
