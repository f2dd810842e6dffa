"""The write service's metrics (names fixed by the design)."""

from shared.plumbing.metrics import LATENCY_BUCKETS, Counter, Gauge, Histogram, http_metrics

# Read from the event store for each scrape (adapters/prometheus.py): no gauge anybody sets.
HEAD_POSITION = ("eventstore_head_position", "Highest position committed in the event store")
PUBLISHED_POSITION = Gauge(
    "outbox_published_position", "Highest event-store position the relay has published"
)
OUTBOX_LAG = Gauge("outbox_lag_events", "Committed events not yet acknowledged by Kafka")
PUBLISH_LATENCY = Histogram(
    "outbox_publish_latency_seconds",
    "Time from an event being recorded to Kafka acknowledging it",
    buckets=LATENCY_BUCKETS,
)
PUBLISH_ERRORS = Counter("outbox_publish_errors_total", "Failed attempts to publish a batch")
PUBLISHED = Counter("outbox_published_events_total", "Events published to Kafka by the relay")
RELAY_LEADER = Gauge("outbox_relay_leader", "1 while this process holds the relay leadership")
COMMANDS = Counter("write_commands_total", "Commands handled", ["command", "outcome"])
HTTP_REQUESTS, HTTP_LATENCY = http_metrics()
