import itertools
import random
import socket
from collections.abc import Iterator

from tests.support.workers import worker_count, worker_index

PORTS = range(20000, 32000)
"""Below Linux's ephemeral range (32768-60999), where no outgoing connection takes a port."""


def _candidates() -> Iterator[int]:
    """This worker's share of PORTS (every worker_count()-th one), shuffled, round and round."""
    mine = list(PORTS[worker_index() :: worker_count()])
    random.shuffle(mine)
    return itertools.cycle(mine)


_CANDIDATES = _candidates()


def free_port() -> int:
    """A TCP port on 127.0.0.1 that is free right now (for a real server in a test). Under
    xdist each worker draws from its own share, so two workers never pick the same port between
    the check and the server's bind."""
    for port in _CANDIDATES:
        with socket.socket() as sock:
            try:
                sock.bind(("127.0.0.1", port))
            except OSError:
                continue
            return port
    raise AssertionError("unreachable")
