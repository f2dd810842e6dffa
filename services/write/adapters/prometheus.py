"""The write service's metrics in Prometheus' terms (names and meanings fixed by the design)."""

import asyncio
import logging
from collections.abc import Awaitable, Callable, Iterator, Sequence

from prometheus_client import CONTENT_TYPE_LATEST, REGISTRY, generate_latest
from prometheus_client.core import GaugeMetricFamily, Metric
from prometheus_client.registry import Collector

from ..metrics import (
    HEAD_POSITION,
    OUTBOX_LAG,
    PUBLISH_ERRORS,
    PUBLISH_LATENCY,
    PUBLISHED,
    PUBLISHED_POSITION,
    RELAY_LEADER,
)

log = logging.getLogger(__name__)


class PrometheusRelayObserver:
    """The relay's reports as the outbox metrics (a RelayObserver)."""

    def resumed(self, position: int) -> None:
        PUBLISHED_POSITION.set(position)

    def published(self, latencies: Sequence[float], position: int) -> None:
        for latency in latencies:
            PUBLISH_LATENCY.observe(latency)
        PUBLISHED.inc(len(latencies))
        PUBLISHED_POSITION.set(position)

    def lag(self, events: int) -> None:
        OUTBOX_LAG.set(events)

    def leading(self, leader: bool) -> None:
        RELAY_LEADER.set(1 if leader else 0)

    def publish_failed(self, error: BaseException) -> None:
        PUBLISH_ERRORS.inc()


class PrometheusExposition:
    """/metrics: the registry's metrics, with the event store's head read for this scrape.

    The head is read, not kept in a gauge: every scrape sees the highest position committed
    by anyone (other replicas, other writers of the database), and no scrape writes a thing.
    """

    def __init__(
        self, highest_position: Callable[[], Awaitable[int]], *, timeout: float = 2.0
    ) -> None:
        self._highest_position = highest_position
        self._timeout = timeout

    async def render(self) -> tuple[bytes, str]:
        try:
            head: int | None = await asyncio.wait_for(self._highest_position(), self._timeout)
        except Exception as exc:  # noqa: BLE001 - the rest still answers when the database does not
            log.debug("no event store head for this scrape: %r", exc)
            head = None
        return generate_latest(_Scrape(head)), CONTENT_TYPE_LATEST


class _Scrape(Collector):
    """The registry, plus the head read for one scrape (absent when it could not be read)."""

    def __init__(self, head: int | None) -> None:
        self._head = head

    def collect(self) -> Iterator[Metric]:
        yield from REGISTRY.collect()
        if self._head is not None:
            name, documentation = HEAD_POSITION
            yield GaugeMetricFamily(name, documentation, value=self._head)
