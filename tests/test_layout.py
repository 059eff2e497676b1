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
