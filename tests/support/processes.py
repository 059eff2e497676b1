"""What a test reads of a real process from /proc (Linux): memory, open sockets."""

from pathlib import Path


def rss_bytes(pid: int) -> int:
    """Resident memory of a process, from /proc (Linux)."""
    for line in Path(f"/proc/{pid}/status").read_text().splitlines():
        if line.startswith("VmRSS:"):
            return int(line.split()[1]) * 1024
    raise AssertionError(f"no VmRSS for {pid}")


def open_sockets(pid: int) -> int:
    """How many sockets a process holds open, from /proc (Linux)."""
    count = 0
    folder = Path(f"/proc/{pid}/fd")
    for fd in folder.iterdir():
        try:
            count += fd.readlink().name.startswith("socket:")
        except FileNotFoundError:
            continue  # closed while we looked
    return count
