"""`make revision` output passes `make lint` as generated: Alembic's post-write hook runs ruff."""

import shutil
import subprocess
import sys
from pathlib import Path

from alembic import command
from alembic.config import Config

from tests.support.paths import ROOT


def test_a_new_revision_is_lint_clean(tmp_path: Path) -> None:
    scripts = tmp_path / "migrations"
    shutil.copytree(ROOT / "migrations", scripts, ignore=shutil.ignore_patterns("__pycache__"))
    config = Config(ROOT / "alembic.ini")
    config.set_main_option("script_location", str(scripts))
    revision = command.revision(config, message="probe hook")
    assert revision is not None
    assert not isinstance(revision, list)
    path = Path(revision.path)
    for check in (["check", "--no-cache", str(path)], ["format", "--check", str(path)]):
        result = subprocess.run(
            [sys.executable, "-m", "ruff", *check],
            cwd=ROOT,
            capture_output=True,
            text=True,
            timeout=60,
            check=False,
        )
        assert result.returncode == 0, result.stdout + result.stderr
    assert "import sqlalchemy as sa" not in path.read_text()
