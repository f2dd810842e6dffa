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
# Metrics read from a store for one scrape (see PrometheusExposition), beside the head.
Reading = Callable[[], Awaitable[Sequence[Metric]]]


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
    So are the `readings` (each left out of a scrape it could not be read for).
    """

    def __init__(
        self,
        highest_position: Callable[[], Awaitable[int]],
        *,
        readings: Sequence[Reading] = (),
        timeout: float = 2.0,
    ) -> None:
        self._highest_position = highest_position
        self._readings = readings
        self._timeout = timeout

    async def render(self) -> tuple[bytes, str]:
        try:
            head: int | None = await asyncio.wait_for(self._highest_position(), self._timeout)
        except Exception as exc:  # noqa: BLE001 - the rest still answers when the database does not
            log.debug("no event store head for this scrape: %r", exc)
            head = None
        read = [m for reading in self._readings for m in await self._read(reading)]
        return generate_latest(_Scrape(head, read)), CONTENT_TYPE_LATEST

    async def _read(self, reading: Reading) -> Sequence[Metric]:
        try:
            return await asyncio.wait_for(reading(), self._timeout)
        except Exception as exc:  # noqa: BLE001 - the rest still answers when the store does not
            log.debug("a reading left out of this scrape: %r", exc)
            return ()


class _Scrape(Collector):
    """The registry, plus the head and the readings of one scrape (absent when they could not
    be read)."""

    def __init__(self, head: int | None, read: Sequence[Metric] = ()) -> None:
        self._head = head
        self._read = read

    def collect(self) -> Iterator[Metric]:
        yield from REGISTRY.collect()
        yield from self._read
        if self._head is not None:
            name, documentation = HEAD_POSITION
            yield GaugeMetricFamily(name, documentation, value=self._head)
