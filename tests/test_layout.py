"""The suite's own layout: shared test code lives in tests/support/, never in a conftest.py.

A conftest.py holds fixtures and hooks, which pytest finds by itself; importing one as a
module runs it a second time under another name and hides where a helper really lives.
"""

import ast
from pathlib import Path

TESTS = Path(__file__).resolve().parent

KNOWN: dict[str, str] = {}
"""Conftest modules still imported elsewhere, with why; shrink this, never grow it."""


def _conftest_imports(path: Path) -> list[str]:
    found: list[str] = []
    for node in ast.walk(ast.parse(path.read_text(), str(path))):
        if isinstance(node, ast.ImportFrom) and node.module:
            names = [node.module, *(f"{node.module}.{a.name}" for a in node.names)]
        elif isinstance(node, ast.Import):
            names = [a.name for a in node.names]
        else:
            continue
        found += [n for n in names if n.split(".")[-1] == "conftest" and n not in KNOWN]
    return found


def test_nothing_is_imported_from_a_conftest() -> None:
    offenders = {
        str(path.relative_to(TESTS.parent)): imports
        for path in sorted(TESTS.rglob("*.py"))
        if (imports := _conftest_imports(path))
    }
    assert offenders == {}, f"import from tests/support/ instead: {offenders}"


def test_the_check_sees_conftest_imports(tmp_path: Path) -> None:
    module = tmp_path / "m.py"
    module.write_text(
        "import tests.conftest\nfrom tests.conftest import PASSWORD\nfrom tests import conftest\n"
    )
    assert _conftest_imports(module) == ["tests.conftest", "tests.conftest", "tests.conftest"]


CROSS_CUTTING = {"container", "docs", "hostile", "ops", "scaleout", "security", "support"}
"""Test folders that mirror no service package: suites across the service, and the helpers."""


def test_test_folders_mirror_the_service_or_cut_across_it() -> None:
    service = {
        p.name for p in (TESTS.parent / "service").iterdir() if (p / "__init__.py").is_file()
    }
    folders = {p.name for p in TESTS.iterdir() if (p / "__init__.py").is_file()}
    assert folders - service - CROSS_CUTTING == set()


def _starts_the_service(path: Path) -> bool:
    """The module names `service.serve` in code (a command line), not only in prose."""
    tree = ast.parse(path.read_text(), str(path))
    docstrings = {
        id(node.body[0].value)
        for node in ast.walk(tree)
        if isinstance(node, ast.Module | ast.FunctionDef | ast.AsyncFunctionDef | ast.ClassDef)
        and node.body
        and isinstance(node.body[0], ast.Expr)
    }
    return any(
        isinstance(node, ast.Constant)
        and node.value == "service.serve"
        and id(node) not in docstrings
        for node in ast.walk(tree)
    )


def test_one_server_launcher_in_support() -> None:
    """Real service processes start only through tests/support/servers.py."""
    launchers = {
        str(path.relative_to(TESTS.parent))
        for path in sorted(TESTS.rglob("*.py"))
        if path != Path(__file__) and (_starts_the_service(path) or path.name == "servers.py")
    }
    assert launchers == {"tests/support/servers.py"}


def test_the_launcher_check_tells_a_command_from_prose(tmp_path: Path) -> None:
    command, prose = tmp_path / "command.py", tmp_path / "prose.py"
    command.write_text('ARGS = ["python", "-m", "service.serve"]\n')
    prose.write_text('"""Runs `python -m service.serve`."""\n\ndef f():\n    """service.serve"""\n')
    assert (_starts_the_service(command), _starts_the_service(prose)) == (True, False)
