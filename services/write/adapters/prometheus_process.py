"""The fulfilment process in Prometheus' terms (names and meanings fixed by the design): its
instances by state, read for each scrape, and what the process reports as it runs."""

from collections.abc import Sequence
from uuid import UUID

from prometheus_client.core import GaugeMetricFamily, Metric

from shared.plumbing.metrics import Counter, Gauge, Histogram

from ..application.fulfilment.ports import Lag
from ..application.processes import ProcessQueries, ProcessState
from .prometheus import Reading

INSTANCES = (
    "fulfilment_instances",
    "Instances of the fulfilment process by state (stuck ones are active ones, counted again)",
)
LAG_EVENTS = Gauge("fulfilment_lag_events", "Order events the fulfilment process has not handled")
LAG_SECONDS = Gauge(
    "fulfilment_lag_seconds", "Age of the oldest order event the fulfilment process has not handled"
)
# Deadlines are fired by a poll of the log: a second or so late is the norm; 30 s is the alert's.
DEADLINE_LATENESS = Histogram(
    "fulfilment_deadline_lateness_seconds",
    "How long after its deadline an unconfirmed order holding stock was expired (fired - due)",
    buckets=(0.5, 1.0, 2.5, 5.0, 10.0, 30.0, 60.0, 300.0, 1800.0),
)
SUSPENDED = Counter(
    "fulfilment_suspended_total", "Instances suspended after failing three attempts in a row"
)
COMMANDS = Counter(
    "fulfilment_commands_total", "Commands the fulfilment process carried out", ["command"]
)
LEADER = Gauge("fulfilment_leader", "1 while this process leads the fulfilment process")
INTERRUPTIONS = Counter(
    "fulfilment_interruptions_total", "Terms of the fulfilment process that ended on an error"
)


def instances_by_state(queries: ProcessQueries) -> Reading:
    """fulfilment_instances{state}, counted by one query for each scrape: every replica shows
    what the database holds, whichever runs the process, and nothing is kept between scrapes."""

    async def read() -> Sequence[Metric]:
        counts = await queries.count_by_state()
        name, documentation = INSTANCES
        family = GaugeMetricFamily(name, documentation, labels=["state"])
        for state in ProcessState:
            family.add_metric([state.value], counts.get(state, 0))
        return [family]

    return read


class PrometheusFulfilmentObserver:
    """The process's reports as its metrics (a FulfilmentObserver). Only the leader reports
    lag: a replica that stops leading shows none, so that max() over replicas is the leader's."""

    def leading(self, leader: bool) -> None:
        LEADER.set(1 if leader else 0)
        if not leader:
            LAG_EVENTS.set(0)
            LAG_SECONDS.set(0)

    def issued(self, command: str) -> None:
        COMMANDS.labels(command=command).inc()

    def deadline_fired(self, lateness: float) -> None:
        DEADLINE_LATENESS.observe(lateness)

    def suspended(self, order_id: UUID, error: str) -> None:
        SUSPENDED.inc()  # the order and its error are in the instance's row, not in a label

    def lag(self, lag: Lag) -> None:
        LAG_EVENTS.set(lag.events)
        LAG_SECONDS.set(lag.seconds)

    def interrupted(self, error: BaseException) -> None:
        INTERRUPTIONS.inc()
