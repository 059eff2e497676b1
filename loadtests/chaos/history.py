"""The run's history: one JSON object per line, appended as operations end."""

import json
import time
from pathlib import Path
from typing import Any

Record = dict[str, Any]


class History:
    """An append-only JSON-lines file; every record gets `type` and is flushed at once."""

    def __init__(self, path: Path) -> None:
        self.path = path
        self._file = path.open("a", encoding="utf-8")

    def append(self, type_: str, **fields: Any) -> Record:
        record: Record = {"type": type_, **fields}
        self._file.write(json.dumps(record, separators=(",", ":")) + "\n")
        self._file.flush()
        return record

    def close(self) -> None:
        self._file.close()


def now() -> float:
    """Wall-clock seconds: the one clock of every record (faults and client operations)."""
    return time.time()


def read_history(path: Path) -> list[Record]:
    """Every record of a history file, in file order (a torn last line is ignored)."""
    records: list[Record] = []
    for line in path.read_text(encoding="utf-8").splitlines():
        try:
            records.append(json.loads(line))
        except json.JSONDecodeError:
            continue
    return records
