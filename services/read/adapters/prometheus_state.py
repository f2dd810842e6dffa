"""The projections' shared state as Prometheus gauges: an operator's pause, a rebuild's progress."""

from ..application.status import SharedState
from ..metrics import PAUSED, REBUILD_PROGRESS


class PrometheusStateObserver:
    """A `StateObserver` that sets `projection_paused` and `projection_rebuild_progress_ratio`."""

    def state_read(self, projection: str, state: SharedState) -> None:
        REBUILD_PROGRESS.labels(projection).set(state.rebuild_ratio)
        PAUSED.labels(projection).set(1 if state.paused else 0)
