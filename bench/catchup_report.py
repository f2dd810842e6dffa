"""The catchup part's figures, tables and method: each projection's live catch-up against its
rebuild over the same log, until the rebuild's new version serves and for its replay alone."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from .backlog import CUSTOMERS, OPEN_ORDERS, PROFILE_CHANGE_EVERY
from .projected import Held
from .rebuild import Rebuilt
from .stats import PartResult, Target, format_number, rate, ratio
from .usage import Usage

TARGET_RATIO = 1.0  # the live catch-up's rate against the rebuild's rate until serving
BASELINE_SECONDS = 3.0  # everything paused: what the read service and MongoDB do meanwhile
READ, MONGO, BROKER = "read service", "mongodb server", "kafka broker"


@dataclass(frozen=True)
class CatchUp:
    """One projection's catch-up: records of both topics worked off, events it applied (the
    ones it folds), how long it took, what it cost, and the documents it left."""

    projection: str
    events: int
    applied: int
    seconds: float
    cost: Usage
    held: Held | None = None

    @property
    def rate(self) -> float:
        return rate(self.events, self.seconds)

    def us_per_event(self, process: str) -> float:
        return ratio(self.cost.cpu.get(process, 0.0) * 1e6, self.events)

    def ops_per_event(self) -> float:
        return ratio(self.cost.database_ops.get("total", 0), self.events)


@dataclass(frozen=True)
class Side:
    """The rebuild of the same projection over the same log, and the documents it left."""

    rebuilt: Rebuilt
    held: Held | None

    @property
    def until_serving(self) -> float:
        """Events over the time from its start until the new version served."""
        return rate(self.rebuilt.events, self.rebuilt.seconds)


RATES = (
    "projection", "live events/s", "rebuild until serving events/s", "live/until serving",
    "rebuild replay events/s", "live/replay", "documents live / rebuild",
)  # fmt: skip
COSTS = ("projection", "read service CPU µs/event", "MongoDB CPU µs/event", "MongoDB ops/event")


def documents(live: Held | None, rebuilt: Held | None) -> str:
    """`live / rebuild` document counts, and whether both sides hold the same ids."""
    if live is None or rebuilt is None:
        return "not counted"
    same = "same ids" if live.ids_digest == rebuilt.ids_digest else "DIFFERENT ids"
    return f"{live.total:,} / {rebuilt.total:,} ({same})"


def compare(result: PartResult, live: CatchUp, side: Side) -> tuple[tuple[str, ...], ...]:
    """One projection's figures and target; returns its rows of both tables."""
    name, rebuilt = live.projection, side.rebuilt
    versus = ratio(live.rate, side.until_serving)
    figures: dict[str, tuple[float, str]] = {
        "live_events_per_s": (live.rate, "events/s"),
        "rebuild_until_serving_events_per_s": (side.until_serving, "events/s"),
        "live_to_rebuild_until_serving": (versus, "x"),
        "rebuild_replay_events_per_s": (rebuilt.replay_rate, "events/s"),
        "live_to_rebuild_replay": (ratio(live.rate, rebuilt.replay_rate), "x"),
        "rebuild_until_serving_seconds": (rebuilt.seconds, "s"),
        **{f"rebuild_{k}_seconds": (v, "s") for k, v in rebuilt.phases.items()},
        "rebuild_events": (rebuilt.events, "events"),
        "read_service_cpu_us_per_event": (live.us_per_event(READ), "µs"),
        "mongodb_cpu_us_per_event": (live.us_per_event(MONGO), "µs"),
        "mongodb_ops_per_event": (live.ops_per_event(), "operations"),
        "mongodb_ops": (live.cost.database_ops.get("total", 0), "operations"),
        "kafka_broker_cpu_us_per_event": (live.us_per_event(BROKER), "µs"),
        "read_service_busy": (live.cost.share_of_a_core(READ), "% of a core"),
        "mongodb_busy": (live.cost.share_of_a_core(MONGO), "% of a core"),
        "catch_up_seconds": (live.seconds, "s"),
        "events": (live.events, "events"),
        "events_applied": (live.applied, "events"),
    }
    for counted, held in (("live", live.held), ("rebuild", side.held)):
        if held is not None:
            figures[f"{counted}_documents"] = (held.total, "documents")
    shown = {key: result.add(f"{name}_{key}", *value).text() for key, value in figures.items()}
    result.targets.append(
        Target(f"{name} live/rebuild until serving", versus, ">=", TARGET_RATIO, "x")
    )
    rates = (name, *(shown[k] for k in list(figures)[:5]), documents(live.held, side.held))
    ops = f"{format_number(live.ops_per_event())} ({figures['mongodb_ops'][0]:,.0f} in all)"
    costs = (name, shown["read_service_cpu_us_per_event"], shown["mongodb_cpu_us_per_event"], ops)
    return rates, costs


def report(
    total: int,
    loading: dict[str, float],
    paused: Usage,
    caught: list[CatchUp],
    sides: list[Side],
) -> PartResult:
    result = PartResult("catchup")
    rows = [compare(result, c, s) for c, s in zip(caught, sides, strict=True)]
    result.tables["live catch-up against the rebuild over the same log"] = [
        RATES,
        *(r[0] for r in rows),
    ]
    result.tables["what the live catch-up costs"] = [COSTS, *(r[1] for r in rows)]
    for c, s in zip(caught, sides, strict=True):
        if c.held is not None and s.held is not None and c.held.ids_digest != s.held.ids_digest:
            result.notes.append(
                f"{c.projection}: the live path and the rebuild hold different documents:"
                f" {c.held.documents} live, {s.held.documents} rebuilt"
            )
    result.add("paused_read_service_busy", paused.share_of_a_core(READ), "% of a core")
    result.add("paused_mongodb_busy", paused.share_of_a_core(MONGO), "% of a core")
    ops = paused.database_ops.get("total", 0)
    result.add("paused_mongodb_ops_per_s", rate(ops, paused.at), "operations/s")
    result.method = method(total, loading, caught, sides)
    return result


def method(
    total: int, loading: dict[str, float], caught: list[CatchUp], sides: list[Side]
) -> dict[str, Any]:
    return {
        "history": f"{total:,} single-event appends (backlog.py), skewed as real traffic is:"
        f" {CUSTOMERS} customers registered first, then orders placed by them at random (some"
        f" 150 each in 30,000 events), about {OPEN_ORDERS} under way at once, each given 0-3"
        " items, 1 in 10 losing a line, 1 in 5 cancelled, the rest confirmed and shipped; a"
        f" rename and a change of email per {2 * PROFILE_CHANGE_EVERY} orders",
        **{key: round(seconds, 1) for key, seconds in loading.items()},
        "events": "records of both topics from the group's committed offsets to the high-water"
        " marks (every projection consumes both; the rebuild replays them all too);"
        " *_events_applied: those the projection folds, by its own counter",
        "catch_up": "from POST /projections/{name}/resume until the group's committed offsets"
        " reach the high-water marks, polled from Kafka every 2% of the time so far (20-500 ms"
        " apart); the other two projections stay paused meanwhile",
        "rebuild": "python -m services.read.cli rebuild --projection NAME over the same log,"
        " into a fresh database, the read service stopped. *_rebuild_until_serving_events_per_s:"
        " the events it replayed over the time from its start until its new version served"
        " (replay, writing the documents still in memory, MongoDB building the indexes, the"
        " pause of the live consumers and the switch: *_rebuild_{replay,writing,indexing,"
        "pausing}_seconds); *_rebuild_replay_events_per_s: over the replay alone, as the"
        " command reports it",
        "target": "live catch-up rate at least the rebuild's rate until serving",
        "documents": "the documents of the projection's active version in each database (every"
        " role), counted once the live catch-ups are over and once the rebuilds are; the ids of"
        " both sides compared through a digest",
        "documents_by_role": {
            c.projection: {
                "live": c.held.documents if c.held else None,
                "rebuild": s.held.documents if s.held else None,
            }
            for c, s in zip(caught, sides, strict=True)
        },
        "cpu": "utime + stime of the process and its children from /proc, over the catch-up",
        "mongodb_ops": "MongoDB's `top` counts over the read service's database (one per"
        " command: a bulk write is one), over the catch-up; by section in ops_by_projection",
        "ops_by_projection": {c.projection: c.cost.database_ops for c in caught},
        "server_opcounters_by_projection": {c.projection: c.cost.server_ops for c in caught},
        "paused": f"{BASELINE_SECONDS:.0f} s with all three paused, before the first resume",
        "rebuild_summaries": [s.rebuilt.summary for s in sides],
    }
