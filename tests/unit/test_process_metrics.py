"""The fulfilment process's metrics: the instances by state, counted for each scrape and never
kept between scrapes, and what the process reports as it runs."""

from uuid import UUID, uuid4

from prometheus_client import REGISTRY

from services.write.adapters.prometheus import PrometheusExposition
from services.write.adapters.prometheus_process import (
    PrometheusFulfilmentObserver,
    instances_by_state,
)
from services.write.application.fulfilment.ports import Lag
from services.write.application.ports import Unavailable
from services.write.application.processes import (
    PageAfter,
    ProcessDetail,
    ProcessPage,
    ProcessState,
    ProcessSummary,
)


class FakeProcessQueries:
    """Counts that change from one scrape to the next, or a database that does not answer."""

    def __init__(self, *counts: dict[ProcessState, int]) -> None:
        self.counts = list(counts)
        self.asked = 0

    async def list(
        self, *, state: ProcessState | None, limit: int, after: PageAfter | None = None
    ) -> ProcessPage:
        return ProcessPage([], None)

    async def get(self, order_id: UUID) -> ProcessDetail | None:
        return None

    async def find(self, order_id: UUID) -> ProcessSummary | None:
        return None

    async def count_by_state(self) -> dict[ProcessState, int]:
        self.asked += 1
        if not self.counts:
            raise Unavailable(ConnectionRefusedError(111, "refused"))
        return self.counts.pop(0)


async def head() -> int:
    return 7


def instances(body: bytes) -> dict[str, str]:
    prefix = "fulfilment_instances{state="
    found = [line for line in body.decode().splitlines() if line.startswith(prefix)]
    return {line[len(prefix) + 1 : line.index('"}')]: line.rsplit(" ", 1)[1] for line in found}


async def test_each_scrape_counts_the_instances_it_shows() -> None:
    queries = FakeProcessQueries(
        {ProcessState.ACTIVE: 3, ProcessState.STUCK: 1},
        {ProcessState.ACTIVE: 2, ProcessState.SUSPENDED: 1, ProcessState.COMPLETED: 9},
    )
    exposition = PrometheusExposition(head, readings=[instances_by_state(queries)])

    first, _ = await exposition.render()
    second, _ = await exposition.render()

    assert instances(first) == {
        "active": "3.0",
        "suspended": "0.0",
        "completed": "0.0",
        "stuck": "1.0",
    }
    assert instances(second) == {
        "active": "2.0",
        "suspended": "1.0",
        "completed": "9.0",
        "stuck": "0.0",
    }
    assert b"# TYPE fulfilment_instances gauge" in first
    assert queries.asked == 2


async def test_without_the_database_the_counts_are_left_out_and_the_rest_answers() -> None:
    queries = FakeProcessQueries()
    body, _ = await PrometheusExposition(head, readings=[instances_by_state(queries)]).render()
    assert instances(body) == {}
    assert b"eventstore_head_position 7.0" in body


def sample(name: str, **labels: str) -> float:
    return REGISTRY.get_sample_value(name, labels) or 0.0


def test_the_process_s_reports_move_its_metrics() -> None:
    observer = PrometheusFulfilmentObserver()
    reserves = sample("fulfilment_commands_total", command="reserve")
    suspended = sample("fulfilment_suspended_total")
    late = sample("fulfilment_deadline_lateness_seconds_count")
    on_time = sample("fulfilment_deadline_lateness_seconds_bucket", le="30.0")

    observer.leading(True)
    observer.issued("reserve")
    observer.issued("reserve")
    observer.deadline_fired(0.8)
    observer.deadline_fired(95.0)
    observer.suspended(uuid4(), "Refused: boom")
    observer.lag(Lag(events=12, seconds=3.5))

    assert sample("fulfilment_leader") == 1
    assert sample("fulfilment_commands_total", command="reserve") == reserves + 2
    assert sample("fulfilment_suspended_total") == suspended + 1
    assert sample("fulfilment_deadline_lateness_seconds_count") == late + 2
    # the alert counts the deadlines over 30 s late as the count less this bucket
    assert sample("fulfilment_deadline_lateness_seconds_bucket", le="30.0") == on_time + 1
    assert (sample("fulfilment_lag_events"), sample("fulfilment_lag_seconds")) == (12, 3.5)


def test_a_replica_that_stops_leading_shows_no_lag() -> None:
    observer = PrometheusFulfilmentObserver()
    observer.leading(True)
    observer.lag(Lag(events=40, seconds=90.0))
    observer.leading(False)
    assert sample("fulfilment_leader") == 0
    assert (sample("fulfilment_lag_events"), sample("fulfilment_lag_seconds")) == (0, 0)
