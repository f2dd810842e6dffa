"""The write service's answers, described for its OpenAPI document.

Routes serve orjson bytes themselves: FastAPI never validates a returned Response against the
route's `response_model`, so these models document the answers at no cost per request. A test
validates real answers against them.
"""

from datetime import datetime
from typing import Annotated, Any, Literal
from uuid import UUID

from pydantic import BaseModel, ConfigDict, Field
from pydantic.json_schema import SkipJsonSchema

from shared.contracts.envelope import MAX_VERSION
from shared.contracts.events import EVENT_TYPES, StreamType


def _no_default(schema: dict[str, Any]) -> None:
    schema.pop("default", None)


# A key left out of the answer, never null, when it has no value.
Omitted = Annotated[str | SkipJsonSchema[None], Field(json_schema_extra=_no_default)]


class Accepted(BaseModel):
    """What every successful command answers: the stream, its new version, the log position."""

    id: UUID
    version: int = Field(ge=1, le=MAX_VERSION)
    position: int = Field(ge=1)


class Actor(BaseModel):
    """Who asked for the command, from its access token: the keys the token had."""

    subject: str = Field(description="The token's subject (`sub`)")
    client_id: Omitted = Field(default=None, description="The OAuth client it was issued to")
    customer_id: Annotated[UUID | SkipJsonSchema[None], Field(json_schema_extra=_no_default)] = (
        Field(default=None, description="The customer of a customer's token")
    )


class StoredMetadata(BaseModel):
    """Tracing data recorded with an event: a key without a value is left out; others may come."""

    model_config = ConfigDict(extra="allow")

    correlation_id: Omitted = None
    causation_id: Omitted = None
    command_id: Omitted = None
    traceparent: Omitted = Field(default=None, description="W3C Trace Context, when one was given")
    actor: Annotated[Actor | SkipJsonSchema[None], Field(json_schema_extra=_no_default)] = Field(
        default=None, description="Who asked for it (absent on events older than access control)"
    )


class StoredEvent(BaseModel):
    """An event as stored: its data, and its place in its stream and in the log."""

    position: int = Field(ge=1, description="Place in the log (gaps are possible)")
    event_id: UUID
    stream_type: StreamType
    stream_id: UUID
    version: int = Field(ge=1, le=MAX_VERSION, description="Place in its stream, from 1")
    event_type: str = Field(examples=list(EVENT_TYPES))
    schema_version: int = Field(ge=1)
    data: dict[str, Any] = Field(
        description="The event's data as stored, in the shape of its schema_version (see the "
        "AsyncAPI document of the topics)"
    )
    metadata: StoredMetadata
    recorded_at: datetime


class StreamEvents(BaseModel):
    """One stream's events in version order."""

    stream_id: UUID
    events: list[StoredEvent]


class EventPage(BaseModel):
    """A page of the log in commit order."""

    events: list[StoredEvent]
    next: str = Field(description="The cursor to pass as `after` for the next page")
    has_more: bool = Field(description="True when the page is full: more may follow")


class Head(BaseModel):
    """Where the log ends."""

    position: int = Field(ge=0, description="The highest position taken (0 when empty)")
    cursor: str = Field(description="A cursor at the last event visible to readers")
    last_position: int = Field(ge=0, description="The position of that event (0 when none)")


class Live(BaseModel):
    """The process answers."""

    status: Literal["ok"]


class Ready(BaseModel):
    """The event store answers; the relay's state is reported, not required."""

    status: Literal["ready"]
    relay: Literal["running", "stopped", "disabled"]
    relay_leader: bool = Field(description="This process holds the relay's lock")
    access_control: Literal["on", "disabled"] = Field(
        description="Whether tokens are checked (disabled only with AUTH_DISABLED=true)"
    )
