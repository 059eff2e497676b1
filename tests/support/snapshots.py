"""What the security suite's `snapshot` fixture returns: every row of every table."""

from typing import Any

Snapshot = dict[str, list[tuple[Any, ...]]]
