"""Websocket feed metrics."""

from prometheus_client import (
    Counter,
    Gauge,
)

REALTIME_CLIENTS = Gauge(
    "realtime_clients", "Connected websocket clients", multiprocess_mode="livesum"
)


REALTIME_MESSAGES = Counter("realtime_messages", "Messages queued to websocket clients")


REALTIME_DROPPED = Counter(
    "realtime_dropped_clients", "Websocket clients disconnected for being too slow"
)


REALTIME_LISTENING = Gauge(
    "realtime_listener_up",
    "1 while the LISTEN connection is established",
    multiprocess_mode="livesum",
)


REALTIME_RECONNECTS = Counter(
    "realtime_listener_reconnects", "LISTEN connection (re)connections after a failure"
)
