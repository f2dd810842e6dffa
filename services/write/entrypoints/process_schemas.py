"""The answers of the /processes routes, described for the OpenAPI document (the routes serve
orjson bytes themselves, as the others do: see schemas.py), and how they are made."""

from datetime import datetime
from typing import Any, Literal
from uuid import UUID

from pydantic import BaseModel, Field

from shared.contracts.envelope import MAX_VERSION

from ..application.processes import ProcessDetail, ProcessPage, ProcessSummary, TimelineEntry

Stage = Literal["pending", "reserved", "confirmed", "rejected", "cancelled", "expired", "shipped"]


class Process(BaseModel):
    """An instance of the fulfilment process: one per order with tracked lines."""

    order_id: UUID
    state: Literal["active", "suspended", "completed"]
    stage: Stage = Field(description="Where the order is, as the process last saw it")
    reservations: dict[str, int] = Field(description="Units held per SKU for the order")
    deadline_at: datetime | None = Field(
        description="When an unconfirmed order holding stock is cancelled (null: no deadline)"
    )
    attempts: int = Field(ge=0, description="Failed attempts in a row (suspended after 3)")
    error: str | None = Field(description="The last failure, while there is one")
    progressed_at: datetime = Field(description="When it last decided something")
    updated_at: datetime
    stuck: bool = Field(
        description="Active but not moving: no progress for FULFILMENT_STUCK_SECONDS while its "
        "order has newer events, or a deadline over 30 s past"
    )


class ProcessList(BaseModel):
    """A page of instances, most recently updated first."""

    items: list[Process]
    next_cursor: str | None = Field(description="Pass it as `cursor` for the next page")


class TimelineEvent(BaseModel):
    """An event of the order, of the process, or of a stock item about the order, in log order;
    its data without personal data (names, emails, addresses)."""

    position: int = Field(ge=1, description="Place in the log")
    stream: Literal["order", "process", "stock"]
    type: str = Field(description="The event type")
    data: dict[str, Any]
    recorded_at: datetime
    actor: str | None = Field(description="The subject of whoever caused it")


class ProcessWithTimeline(Process):
    """An instance, the rules it runs under, and its timeline."""

    rules: int = Field(ge=1, description="The version of the rules it started (and ends) with")
    version: int = Field(ge=0, le=MAX_VERSION, description="Its stream's version")
    started_at: datetime
    timeline: list[TimelineEvent]


def process_body(process: ProcessSummary) -> dict[str, Any]:
    return {
        "order_id": process.order_id,
        "state": process.state,
        "stage": process.stage,
        "reservations": process.reservations,
        "deadline_at": process.deadline_at,
        "attempts": process.attempts,
        "error": process.error,
        "progressed_at": process.progressed_at,
        "updated_at": process.updated_at,
        "stuck": process.stuck,
    }


def page_body(page: ProcessPage) -> dict[str, Any]:
    cursor = page.next.encode() if page.next else None
    return {"items": [process_body(p) for p in page.items], "next_cursor": cursor}


def _event_body(entry: TimelineEntry) -> dict[str, Any]:
    return {
        "position": entry.position,
        "stream": entry.stream,
        "type": entry.type,
        "data": entry.data,
        "recorded_at": entry.recorded_at,
        "actor": entry.actor,
    }


def detail_body(detail: ProcessDetail) -> dict[str, Any]:
    return {
        **process_body(detail.summary),
        "rules": detail.rules,
        "version": detail.version,
        "started_at": detail.started_at,
        "timeline": [_event_body(e) for e in detail.timeline],
    }
