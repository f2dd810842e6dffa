"""The envelope of a stored event and the opaque cursor of the commit-order feed."""

import base64
import binascii
import re
from datetime import datetime
from typing import Annotated, Any, NamedTuple
from uuid import UUID

from opentelemetry.trace import get_current_span
from opentelemetry.trace.propagation.tracecontext import TraceContextTextMapPropagator
from pydantic import BaseModel, BeforeValidator, ConfigDict

_TRACE_CONTEXT = TraceContextTextMapPropagator()
# The event store's column types bound what a client may name: a stream's version is an int4,
# a position a bigint, and a transaction id an xid8 read back as a bigint.
MAX_VERSION = 2**31 - 1
MAX_POSITION = 2**63 - 1
_CURSOR = re.compile(r"([0-9]{1,19}):([0-9]{1,19})")


def valid_traceparent(value: Any) -> str | None:
    """`value` if it is a W3C Trace Context `traceparent`, else None: an invalid one is dropped,
    never an error (the OpenTelemetry propagator decides what is valid)."""
    if not isinstance(value, str) or len(value) > 512:
        return None
    context = _TRACE_CONTEXT.extract({"traceparent": value})
    return value.strip() if get_current_span(context).get_span_context().is_valid else None


class EventMetadata(BaseModel):
    """Tracing data carried with every event, and who asked for it (the audit trail)."""

    model_config = ConfigDict(frozen=True, extra="allow")

    correlation_id: str | None = None
    causation_id: str | None = None
    command_id: str | None = None
    traceparent: Annotated[str | None, BeforeValidator(valid_traceparent)] = None
    # The caller's `subject`, `client_id` and `customer_id` (only those its token had).
    actor: dict[str, str] | None = None


class RecordedEvent(BaseModel):
    """An event as the store holds it: data (JSON object) plus its place in stream and log."""

    model_config = ConfigDict(frozen=True)

    position: int
    transaction_id: int
    event_id: UUID
    stream_type: str
    stream_id: UUID
    version: int
    event_type: str
    schema_version: int
    data: dict[str, Any]
    metadata: EventMetadata
    recorded_at: datetime

    @property
    def cursor(self) -> "Cursor":
        return Cursor(self.transaction_id, self.position)


class InvalidCursor(ValueError):
    """The cursor string was not produced by this service."""


class Cursor(NamedTuple):
    """A place in the commit-ordered log: everything at or before it has been seen."""

    transaction_id: int
    position: int

    def encode(self) -> str:
        raw = f"{self.transaction_id}:{self.position}".encode()
        return base64.urlsafe_b64encode(raw).decode().rstrip("=")

    @classmethod
    def decode(cls, text: str) -> "Cursor":
        """The cursor `encode` made; anything else (including numbers past the store's range,
        which the database would refuse) is an InvalidCursor."""
        try:
            padded = text + "=" * (-len(text) % 4)
            raw = base64.urlsafe_b64decode(padded.encode()).decode("ascii")
        except (ValueError, binascii.Error) as exc:
            raise InvalidCursor(f"invalid cursor {text[:40]!r}") from exc
        match = _CURSOR.fullmatch(raw)
        if match is None or max(int(match[1]), int(match[2])) > MAX_POSITION:
            raise InvalidCursor(f"invalid cursor {text[:40]!r}")
        return cls(int(match[1]), int(match[2]))


START = Cursor(0, 0)
