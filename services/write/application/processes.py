"""What operators see of the fulfilment process: its instances listed by state, one instance
with the timeline of what it handled and did, and a suspended instance sent back to work."""

import base64
from dataclasses import dataclass
from datetime import UTC, datetime
from enum import StrEnum
from typing import Any, Literal, Protocol
from uuid import UUID

from shared.contracts.envelope import InvalidCursor

# Stages after which an instance has nothing left to wait for (it completes there).
TERMINAL_STAGES = ("rejected", "cancelled", "expired", "shipped")
# A deadline this long past and still not fired makes an instance stuck, whatever its progress.
DEADLINE_GRACE_SECONDS = 30
MAX_PAGE = 200
Stream = Literal["order", "process", "stock"]


class ProcessState(StrEnum):
    """The states an instance can be listed by; `stuck` is an active instance that does not
    move (see ProcessQueries.list)."""

    ACTIVE = "active"
    SUSPENDED = "suspended"
    COMPLETED = "completed"
    STUCK = "stuck"


@dataclass(frozen=True)
class ProcessSummary:
    """One instance as its row holds it, and whether it is stuck now."""

    order_id: UUID
    state: str
    stage: str
    reservations: dict[str, int]
    deadline_at: datetime | None
    attempts: int
    error: str | None
    progressed_at: datetime
    updated_at: datetime
    stuck: bool


@dataclass(frozen=True)
class TimelineEntry:
    """An event of the order, of the process or of a stock item about the order, without
    personal data; `actor` is the subject of whoever caused it."""

    position: int
    stream: Stream
    type: str
    data: dict[str, Any]
    recorded_at: datetime
    actor: str | None


@dataclass(frozen=True)
class ProcessDetail:
    """One instance, its rules and stream version, and its timeline in log order."""

    summary: ProcessSummary
    rules: int
    version: int
    started_at: datetime
    timeline: list[TimelineEntry]


@dataclass(frozen=True)
class PageAfter:
    """Where a page of the list starts: after this instance, in newest-first order."""

    updated_at: datetime
    order_id: UUID

    def encode(self) -> str:
        raw = f"{self.updated_at.isoformat()}|{self.order_id}".encode()
        return base64.urlsafe_b64encode(raw).decode().rstrip("=")

    @classmethod
    def decode(cls, text: str) -> "PageAfter":
        """The cursor `encode` made; anything else is an InvalidCursor."""
        try:
            raw = base64.urlsafe_b64decode(text + "=" * (-len(text) % 4)).decode("ascii")
            at, _, ident = raw.partition("|")
            moment = datetime.fromisoformat(at)
            if moment.tzinfo is None:
                raise ValueError("no time zone")
            return cls(moment.astimezone(UTC), UUID(ident))
        except (ValueError, OverflowError) as exc:  # binascii.Error is a ValueError
            raise InvalidCursor("not a cursor of a previous page") from exc


@dataclass(frozen=True)
class ProcessPage:
    """A page of instances, newest first, and where the next one starts (None: last page)."""

    items: list[ProcessSummary]
    next: PageAfter | None


class ProcessQueries(Protocol):
    """Reads of the instances and of the events about them (read-only)."""

    async def list(
        self, *, state: ProcessState | None, limit: int, after: PageAfter | None = None
    ) -> ProcessPage:
        """Instances by `updated_at`, newest first; all of them, or those in `state`. Stuck:
        active, in a stage not terminal, and either not progressed for the stuck time while
        its order has events since, or its deadline more than DEADLINE_GRACE_SECONDS past."""
        ...

    async def get(self, order_id: UUID) -> ProcessDetail | None:
        """The order's instance with its timeline; None when the order has none."""
        ...

    async def find(self, order_id: UUID) -> ProcessSummary | None:
        """The order's instance alone; None when the order has none."""
        ...

    async def count_by_state(self) -> dict[ProcessState, int]:
        """How many instances are in each state (stuck ones are counted as active too)."""
        ...


# The parts of an address, wherever they appear; with names, emails and addresses themselves
# (see `personal`), what the timeline leaves out of an event's data.
ADDRESS_PARTS = frozenset({"line1", "line2", "city", "postal_code"})


def personal(key: str) -> bool:
    """A key of an event's data whose value is personal data: a customer's or a line's name,
    an email, an address or a part of one."""
    return (
        key == "name"
        or key.endswith("_name")
        or "email" in key
        or "address" in key
        or key in ADDRESS_PARTS
    )


def without_personal_data(value: Any) -> Any:
    """`value` (an event's data) without the keys that hold personal data, at any depth."""
    if isinstance(value, dict):
        return {k: without_personal_data(v) for k, v in value.items() if not personal(k)}
    if isinstance(value, list):
        return [without_personal_data(item) for item in value]
    return value
