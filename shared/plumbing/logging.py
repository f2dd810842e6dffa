"""JSON logging with the correlation id of the request or message being handled."""

import logging
import sys
from contextvars import ContextVar
from datetime import UTC, datetime

import orjson

from .redaction import redact_query
from .tracing import log_fields

correlation_id: ContextVar[str | None] = ContextVar("correlation_id", default=None)


class JsonFormatter(logging.Formatter):
    """One JSON object a line: time, level, logger, message, correlation id, the current
    span's trace and span ids (when tracing is on), extras."""

    _skip = frozenset(logging.makeLogRecord({}).__dict__) | {"message", "asctime"}

    def format(self, record: logging.LogRecord) -> str:
        entry: dict[str, object] = {
            "time": datetime.fromtimestamp(record.created, UTC).isoformat(),
            "level": record.levelname,
            "logger": record.name,
            "message": record.getMessage(),
        }
        cid = correlation_id.get()
        if cid:
            entry["correlation_id"] = cid
        entry.update(log_fields())
        entry.update({k: v for k, v in record.__dict__.items() if k not in self._skip})
        if record.exc_info:
            entry["exception"] = self.formatException(record.exc_info)
        return orjson.dumps(entry, default=str).decode()


class WithoutQueryValues(logging.Filter):
    """uvicorn's access lines (when they are on) with the values of the query string replaced:
    a query may hold personal data (`GET /customers?email=`)."""

    def filter(self, record: logging.LogRecord) -> bool:
        args = record.args
        if isinstance(args, tuple) and len(args) > 2 and isinstance(args[2], str):
            path, asked, query = args[2].partition("?")
            if asked:
                record.args = (*args[:2], f"{path}?{redact_query(query)}", *args[3:])
        return True


def configure_logging(level: str = "INFO", fmt: str = "json") -> None:
    """Route every logger (uvicorn's too) to stderr in the chosen format."""
    handler = logging.StreamHandler(sys.stderr)
    if fmt == "json":
        handler.setFormatter(JsonFormatter())
    else:
        handler.setFormatter(logging.Formatter("%(asctime)s %(levelname)s %(name)s %(message)s"))
    root = logging.getLogger()
    root.handlers[:] = [handler]
    root.setLevel(level)
    for name in ("uvicorn", "uvicorn.error", "uvicorn.access"):
        logging.getLogger(name).handlers[:] = []
        logging.getLogger(name).propagate = True
    access = logging.getLogger("uvicorn.access")
    access.setLevel("WARNING")
    if not any(isinstance(f, WithoutQueryValues) for f in access.filters):
        access.addFilter(WithoutQueryValues())
    logging.getLogger("aiokafka").setLevel("WARNING")
