"""Time-ordered UUIDs (RFC 9562 version 7), generated in Python.

48 bits of Unix milliseconds, then a 12-bit counter that is random at each new millisecond and
incremented within one (monotonic inside the process), then 62 random bits. Byte order is time
order, so a B-tree on the key stays append-mostly and keyset pagination by id is by creation time.
"""

import os
import threading
import time
import uuid

_lock = threading.Lock()
_last_ms = 0
_counter = 0


def uuid7() -> uuid.UUID:
    global _last_ms, _counter
    with _lock:
        now = time.time_ns() // 1_000_000
        if now > _last_ms:
            _last_ms, _counter = now, int.from_bytes(os.urandom(2)) & 0x7FF
        else:
            # Same (or an earlier, clock stepped back) millisecond: stay monotonic.
            _counter += 1
            if _counter > 0xFFF:
                _last_ms, _counter = _last_ms + 1, 0
        ms, counter = _last_ms, _counter
    tail = int.from_bytes(os.urandom(8)) & ((1 << 62) - 1)
    value = (ms & ((1 << 48) - 1)) << 80 | 0x7 << 76 | counter << 64 | 0b10 << 62 | tail
    return uuid.UUID(int=value)
