"""The operations routes' answers (`/projections`, `/erasures`, the health probes), as
documentation, as for the queries' answers (schemas.py)."""

from datetime import datetime
from typing import Annotated, Literal
from uuid import UUID

from pydantic import BaseModel, ConfigDict, Field

from .schemas import Answer, Count


class Rebuild(BaseModel):
    """The latest rebuild's lease and progress (running or finished)."""

    model_config = ConfigDict(extra="allow")

    running: bool
    owner: str
    phase: str | None = None
    target_version: int | None = None
    events: int | None = None
    total: int | None = None
    ratio: float | None = None
    rate: float | None = Field(default=None, description="events replayed per second")
    eta_seconds: float | None = Field(default=None, description="until the log is replayed")
    started_at: datetime
    heartbeat_at: datetime
    finished_at: datetime | None = None


# The projections' names (services/read/projections/__init__.py lists them in this order).
ProjectionName = Literal["order_details", "customers", "sales", "stock"]


class ProjectionStatus(Answer):
    name: ProjectionName
    state: Literal["live", "rebuilding"]
    paused: bool = Field(description="paused by an operator (every replica)")
    healthy: bool
    last_error: str | None = Field(
        description="why it is not healthy; shown to ordering:operate only (null for others)"
    )
    active_version: Annotated[int, Field(ge=1)]
    position: Count
    lag_measured: bool
    lag_events: Count
    lag_seconds: Annotated[float, Field(ge=0)]
    events_applied: Count
    dead_letters: Count
    rebuild: Rebuild | None


class Projections(Answer):
    projections: list[ProjectionStatus]


class ProjectionErasure(Answer):
    caught_up: bool = Field(
        description="its active version has applied the customer's CustomerErased: nothing"
        " personal of theirs is left in its documents"
    )


class Erasure(Answer):
    """How far each projection is with a customer's erasure."""

    customer_id: UUID
    projections: dict[ProjectionName, ProjectionErasure]


class Live(Answer):
    status: Literal["ok"]


class Ready(Answer):
    status: Literal["ready"]
    paused: list[str] = Field(description="projections an operator paused: not applying events")
    access_control: Literal["on", "disabled"] = Field(
        description="whether tokens are checked (disabled only with AUTH_DISABLED=true)"
    )


class DeadLetter(Answer):
    """A record a projection could not apply, as it was delivered, with why."""

    id: str
    projection: ProjectionName
    topic: str
    partition: int
    offset: int
    key: str | None = Field(description="the record's key (the stream id), as text")
    value: str | None = Field(description="the record's value as text (UTF-8, replaced where not)")
    headers: dict[str, str] = Field(description="the record's headers, as text")
    timestamp_ms: int
    error: str = Field(description="the last failure, type and message")
    failed_at: datetime
    attempts: int = Field(description="times it was applied and failed, replays included")


class DeadLetters(Answer):
    dead_letters: list[DeadLetter]


class Replayed(Answer):
    """A dead letter applied again: removed when applied, kept (with its error) otherwise."""

    id: str
    projection: ProjectionName
    applied: bool
    error: str | None


class ReplayedAll(Answer):
    replayed: list[Replayed]
