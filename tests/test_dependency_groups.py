"""Dependency groups: `make run` and the image install the runtime dependencies only, and the
service's code needs nothing else (pyproject.toml [project.optional-dependencies])."""

import ast
import re
import subprocess
import sys
import tomllib
from collections import defaultdict
from collections.abc import Iterator
from functools import lru_cache
from importlib import metadata
from pathlib import Path

import pytest
from packaging.requirements import Requirement
from packaging.utils import canonicalize_name

from tests.support.paths import ROOT

EXTRA_ONLY = {"service/observability/tracing_sdk.py": "tracing"}
"""Modules imported only when their extra is on, with that extra."""


def _closure(requirements: list[str], extras: frozenset[str] = frozenset()) -> set[str]:
    """The distributions these requirements install (markers evaluated here), recursively."""
    seen: set[str] = set()
    pending = [(r, extras) for r in requirements]
    while pending:
        text, active = pending.pop()
        requirement = Requirement(text)
        if requirement.marker is not None and not any(
            requirement.marker.evaluate({"extra": extra}) for extra in (active or {""})
        ):
            continue
        name = canonicalize_name(requirement.name)
        key = f"{name}[{','.join(sorted(requirement.extras))}]"
        if key in seen:
            continue
        seen.add(key)
        pending += [(r, frozenset(requirement.extras)) for r in metadata.requires(name) or []]
    return {key.split("[")[0] for key in seen}


def _runtime() -> set[str]:
    return _closure([r for r in metadata.requires("inkwell") or [] if "extra ==" not in r])


def _imports(path: Path) -> Iterator[str]:
    """Modules imported when `path` runs (not those under `if TYPE_CHECKING:`)."""
    pending: list[ast.AST] = [ast.parse(path.read_text(), str(path))]
    while pending:
        node = pending.pop()
        if isinstance(node, ast.If) and "TYPE_CHECKING" in ast.unparse(node.test):
            pending += node.orelse
            continue
        if isinstance(node, ast.Import):
            yield from (alias.name for alias in node.names)
        elif isinstance(node, ast.ImportFrom) and node.module and node.level == 0:
            yield node.module
        pending += ast.iter_child_nodes(node)


@lru_cache
def _owners() -> dict[str, set[str]]:
    """Module (and package) name -> the installed distributions whose files provide it; a
    namespace package (opentelemetry) has several, its subpackages one each."""
    owners: dict[str, set[str]] = defaultdict(set)
    for distribution in metadata.distributions():
        name = canonicalize_name(distribution.metadata["Name"])
        for file in distribution.files or []:
            if file.suffix != ".py" or ".." in file.parts:
                continue
            parts = file.with_suffix("").parts
            parts = parts[:-1] if parts[-1] == "__init__" else parts
            for depth in range(1, len(parts) + 1):
                owners[".".join(parts[:depth])].add(name)
    return owners


def test_the_service_imports_only_runtime_dependencies() -> None:
    runtime = _runtime()
    missing: dict[str, set[str]] = {}
    for path in sorted((ROOT / "service").rglob("*.py")):
        relative = str(path.relative_to(ROOT))
        for module in _imports(path):
            top = module.split(".")[0]
            if top == "service" or top in sys.stdlib_module_names:
                continue
            owners = _owners().get(module) or _owners().get(top, set())
            extra = EXTRA_ONLY.get(relative)
            allowed = runtime | (_closure([f"inkwell[{extra}]"]) if extra else set())
            if not owners & allowed:
                missing.setdefault(relative, set()).add(module)
    assert missing == {}, "imported by the service, not a runtime dependency"


def _plan(target: str, venv: Path) -> list[str]:
    """What `make -n target` would run for a virtualenv that does not exist yet."""
    return subprocess.run(
        ["make", "-n", "--no-print-directory", target, f"VENV={venv}"],
        cwd=ROOT,
        capture_output=True,
        text=True,
        timeout=60,
        check=True,
    ).stdout.splitlines()


@pytest.mark.parametrize(("target", "group"), [("test", ".[dev]"), ("bench", ".[bench]")])
def test_tool_targets_install_their_group(target: str, group: str, tmp_path: Path) -> None:
    installs = [re.findall(r"-m pip install .* -e (\S+)", line) for line in _plan(target, tmp_path)]
    assert [i.strip("'") for found in installs for i in found] == [group]


@pytest.mark.parametrize("target", ["run", "migrate", "worker"])
def test_service_targets_install_the_runtime_dependencies_only(target: str, tmp_path: Path) -> None:
    """The requirements file the plan writes is pyproject's `dependencies`, and the one pip
    install installs it (the project itself is not built: it runs from the checkout)."""
    venv = tmp_path / "venv"
    plan = _plan(target, venv)
    assert [line for line in plan if "pip install" in line] == [
        f"{venv}/bin/python -m pip install --quiet --disable-pip-version-check --no-compile"
        f" -r {venv}/runtime-requirements.txt"
    ]
    (venv / "bin").mkdir(parents=True)
    (venv / "bin" / "python").symlink_to(sys.executable)
    write = next(line for line in plan if "runtime-requirements.txt" in line and "tomllib" in line)
    subprocess.run(["bash", "-c", write], cwd=ROOT, check=True, timeout=60)
    pyproject = tomllib.loads((ROOT / "pyproject.toml").read_text())
    written = (venv / "runtime-requirements.txt").read_text().splitlines()
    assert written == pyproject["project"]["dependencies"]


def test_the_image_installs_the_runtime_dependencies_only() -> None:
    """`pip install ".${INKWELL_EXTRAS}"` with the build argument empty by default."""
    dockerfile = (ROOT / "Dockerfile").read_text()
    arguments = dict(re.findall(r'^ARG (\w+)="([^"]*)"$', dockerfile, re.MULTILINE))
    installs = re.findall(r"pip install ([^&\n]*)", dockerfile)
    assert installs, "no pip install in the Dockerfile"
    for line in installs:
        targets = [a.strip('"') for a in line.split() if not a.startswith("-")]
        built = [re.sub(r"\$\{(\w+)\}", lambda m: arguments[m[1]], t) for t in targets]
        assert built == ["."], f"the image installs {built}, not the runtime group"
