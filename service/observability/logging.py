"""Standard-library logging with a JSON (or console) formatter; one root handler."""

import json
import logging
import sys
import time
from datetime import UTC, datetime
from typing import Any, Literal

from service.observability.context import _context
from service.observability.settings import ObservabilitySettings

_RESERVED = frozenset(logging.makeLogRecord({}).__dict__) | {"message", "asctime", "color_message"}


_base_factory = logging.getLogRecordFactory()


def _record_with_context(*args: Any, **kwargs: Any) -> logging.LogRecord:
    """Every record created inside a request carries its id (and user id once known)."""
    record = _base_factory(*args, **kwargs)
    context = _context.get()
    if context is not None:
        record.request_id = context.request_id
        if context.user_id is not None:
            record.user_id = context.user_id
    return record


def _extras(record: logging.LogRecord) -> dict[str, Any]:
    return {
        k: v for k, v in record.__dict__.items() if k not in _RESERVED and not k.startswith("_")
    }


class JsonFormatter(logging.Formatter):
    """One JSON object per line: ts, level, logger, message, then the record's extra fields."""

    def format(self, record: logging.LogRecord) -> str:
        line: dict[str, Any] = {
            "ts": datetime.fromtimestamp(record.created, UTC).isoformat(timespec="milliseconds"),
            "level": record.levelname.lower(),
            "logger": record.name,
            "message": record.getMessage(),
        }
        line.update(_extras(record))
        if record.exc_info:
            line["exc_info"] = self.formatException(record.exc_info)
        return json.dumps(line, default=str, separators=(",", ":"))


class ConsoleFormatter(logging.Formatter):
    """Human-readable lines for `make run`: time level logger message key=value..."""

    def format(self, record: logging.LogRecord) -> str:
        stamp = time.strftime("%H:%M:%S", time.localtime(record.created))
        extras = " ".join(f"{k}={v}" for k, v in _extras(record).items())
        text = f"{stamp} {record.levelname:<7} {record.name}: {record.getMessage()} {extras}"
        if record.exc_info:
            text += "\n" + self.formatException(record.exc_info)
        return text.rstrip()


class _InkwellHandler(logging.StreamHandler):  # type: ignore[type-arg]
    """Marker class so that reconfiguring replaces our handler and leaves others alone."""


def log_format(settings: ObservabilitySettings) -> Literal["json", "console"]:
    if settings.log_format != "auto":
        return settings.log_format
    return "console" if settings.environment == "development" else "json"


def configure_logging(settings: ObservabilitySettings) -> None:
    """Idempotent: one stderr handler on the root logger; uvicorn's loggers propagate to it."""
    logging.setLogRecordFactory(_record_with_context)
    root = logging.getLogger()
    for handler in [h for h in root.handlers if isinstance(h, _InkwellHandler)]:
        root.removeHandler(handler)
    handler = _InkwellHandler(sys.stderr)
    handler.setFormatter(JsonFormatter() if log_format(settings) == "json" else ConsoleFormatter())
    root.addHandler(handler)
    root.setLevel(settings.log_level)
    for name in ("uvicorn", "uvicorn.error", "uvicorn.access"):
        logger = logging.getLogger(name)
        logger.handlers.clear()
        logger.propagate = True
    # Our access line replaces uvicorn's; pool life-cycle chatter stays out of INFO.
    logging.getLogger("uvicorn.access").setLevel(logging.WARNING)
    if not settings.db_echo:
        logging.getLogger("sqlalchemy").setLevel(logging.WARNING)
        logging.getLogger("service.observability.metrics.InstrumentedAsyncQueuePool").setLevel(
            logging.WARNING
        )
