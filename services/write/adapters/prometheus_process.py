"""The fulfilment process in Prometheus' terms (names and meanings fixed by the design): its
instances by state, read for each scrape."""

from collections.abc import Sequence

from prometheus_client.core import GaugeMetricFamily, Metric

from ..application.processes import ProcessQueries, ProcessState
from .prometheus import Reading

INSTANCES = (
    "fulfilment_instances",
    "Instances of the fulfilment process by state (stuck ones are active ones, counted again)",
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
