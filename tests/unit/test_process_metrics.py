"""The fulfilment process's metrics: the instances by state, counted for each scrape and never
kept between scrapes."""

from uuid import UUID

from services.write.adapters.prometheus import PrometheusExposition
from services.write.adapters.prometheus_process import instances_by_state
from services.write.application.ports import Unavailable
from services.write.application.processes import (
    PageAfter,
    ProcessDetail,
    ProcessPage,
    ProcessState,
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
