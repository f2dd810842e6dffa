"""What the read side's application observes, as the read service's Prometheus metrics
(services/read/metrics.py: names and meanings fixed by the design, read by the alert rules):
the projections' batches and rebuilds, and the projections' shared state."""

from collections.abc import Sequence

from ..application.status import SharedState
from ..metrics import (
    APPLIED,
    APPLY_LATENCY,
    DEAD_LETTERS,
    DUPLICATES,
    GAPS,
    PAUSED,
    POSITION,
    REBUILD_PROGRESS,
    SKIPPED,
)


class PrometheusObserver:
    """An `Observer` (application/ports.py) that counts into this process's metrics."""

    def applied(
        self,
        projection: str,
        *,
        applied: int,
        skipped: int,
        gaps_healed: int,
        latencies: Sequence[float],
        position: int,
    ) -> None:
        latency = APPLY_LATENCY.labels(projection)
        for seconds in latencies:
            latency.observe(seconds)
        APPLIED.labels(projection).inc(applied)
        DUPLICATES.labels(projection).inc(skipped)
        GAPS.labels(projection).inc(gaps_healed)
        POSITION.labels(projection).set(position)

    def unknown_type(self, projection: str, event_type: str) -> None:
        SKIPPED.labels(projection).inc()

    def dead_letter(self, projection: str) -> None:
        DEAD_LETTERS.labels(projection).inc()

    def rebuild_progress(self, projection: str, ratio: float) -> None:
        REBUILD_PROGRESS.labels(projection).set(ratio)


class PrometheusStateObserver:
    """A `StateObserver` that sets `projection_paused` and `projection_rebuild_progress_ratio`."""

    def state_read(self, projection: str, state: SharedState) -> None:
        REBUILD_PROGRESS.labels(projection).set(state.rebuild_ratio)
        PAUSED.labels(projection).set(1 if state.paused else 0)
