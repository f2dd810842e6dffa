"""The read service's metrics (names fixed by the design)."""

from collections.abc import Iterable

from shared.plumbing.metrics import LATENCY_BUCKETS, Counter, Gauge, Histogram, http_metrics

LAG_EVENTS = Gauge("projection_lag_events", "Events on Kafka not yet applied", ["projection"])
LAG_SECONDS = Gauge(
    "projection_lag_seconds",
    "Age of the oldest event not yet applied (0 when caught up)",
    ["projection"],
)
APPLIED = Counter("projection_events_applied_total", "Events applied", ["projection"])
APPLY_LATENCY = Histogram(
    "projection_apply_latency_seconds",
    "Time from an event being recorded to its projection being written",
    ["projection"],
    buckets=LATENCY_BUCKETS,
)
CONSUMER_LAG = Gauge(
    "kafka_consumer_lag",
    "Records behind the fetch high-water mark",
    ["projection", "topic", "partition"],
)
DEAD_LETTERS = Counter(
    "projection_dead_letters_total", "Records sent to dead letters", ["projection"]
)
SKIPPED = Counter(
    "projection_unknown_events_total", "Events of unknown types skipped", ["projection"]
)
DUPLICATES = Counter(
    "projection_duplicate_events_total", "Events already applied (no-ops)", ["projection"]
)
GAPS = Counter(
    "projection_gaps_healed_total", "Version gaps healed from the write service", ["projection"]
)
POSITION = Gauge("projection_position", "Highest event-store position applied", ["projection"])
REBUILD_PROGRESS = Gauge(
    "projection_rebuild_progress_ratio", "Progress of the running rebuild (0..1)", ["projection"]
)
PAUSED = Gauge(
    "projection_paused",
    "1 while an operator has paused the projection (every replica)",
    ["projection"],
)
HTTP_REQUESTS, HTTP_LATENCY = http_metrics()
PER_PROJECTION = (
    LAG_EVENTS,
    LAG_SECONDS,
    APPLIED,
    APPLY_LATENCY,
    DEAD_LETTERS,
    SKIPPED,
    DUPLICATES,
    GAPS,
    POSITION,
    REBUILD_PROGRESS,
    PAUSED,
)


def start_series(projections: Iterable[str]) -> None:
    """Every per-projection series, at 0, from the start.

    `increase()` and `rate()` see a change only between two samples: a series born at its first
    dead letter has no sample before it, so the alert on new dead letters would miss the first
    one after each restart, and panels would show nothing rather than 0.
    """
    for name in projections:
        for metric in PER_PROJECTION:
            metric.labels(name)
