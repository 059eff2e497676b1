"""Write compose.yaml's inline `configs:` to .compose-local/<name> for compose.local.yaml.

podman-compose does not mount top-level `configs:` (content), so the override bind-mounts these
files instead; compose.yaml stays the single source of the configuration. `$$` is compose's
escape for a literal `$`.
"""

import sys
from pathlib import Path

import yaml  # type: ignore[import-untyped]

ROOT = Path(__file__).resolve().parents[2]


def render(target: Path = ROOT / ".compose-local") -> list[Path]:
    compose = yaml.safe_load((ROOT / "compose.yaml").read_text())
    target.mkdir(exist_ok=True)
    written = []
    for name, config in compose["configs"].items():
        path = target / name
        path.write_text(config["content"].replace("$$", "$"))
        path.chmod(0o755 if name.endswith("-init") else 0o644)
        written.append(path)
    return written


if __name__ == "__main__":
    for path in render():
        sys.stdout.write(f"{path.relative_to(ROOT)}\n")
