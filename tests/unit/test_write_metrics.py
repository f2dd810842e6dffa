"""The write service's metrics: the relay's reports as the design's outbox metrics, and the event
store's head read for each scrape, never kept."""

from prometheus_client import REGISTRY

from services.write.adapters.prometheus import PrometheusExposition, PrometheusRelayObserver
from services.write.application.ports import Unavailable


def samples(body: bytes, name: str) -> list[str]:
    return [line for line in body.decode().splitlines() if line.startswith(f"{name} ")]


async def test_each_scrape_reads_the_head_it_shows() -> None:
    heads = iter([42, 45])

    async def highest() -> int:
        return next(heads)

    exposition = PrometheusExposition(highest)
    first, content_type = await exposition.render()
    second, _ = await exposition.render()
    assert content_type.startswith("text/plain")
    assert samples(first, "eventstore_head_position") == ["eventstore_head_position 42.0"]
    assert samples(second, "eventstore_head_position") == ["eventstore_head_position 45.0"]
    assert b"# TYPE eventstore_head_position gauge" in first


async def test_without_the_database_the_head_is_left_out_and_the_rest_answers() -> None:
    async def highest() -> int:
        raise Unavailable(ConnectionRefusedError(111, "refused"))

    body, _ = await PrometheusExposition(highest).render()
    assert samples(body, "eventstore_head_position") == []
    assert b"outbox_published_position" in body


def sample(name: str) -> float:
    return REGISTRY.get_sample_value(name) or 0.0


def test_the_relay_s_reports_move_the_outbox_metrics() -> None:
    observer = PrometheusRelayObserver()
    published = sample("outbox_published_events_total")
    latencies = sample("outbox_publish_latency_seconds_count")
    errors = sample("outbox_publish_errors_total")
    observer.resumed(5)
    assert sample("outbox_published_position") == 5
    observer.published([0.5, 1.5], 7)
    assert sample("outbox_published_position") == 7
    assert sample("outbox_published_events_total") == published + 2
    assert sample("outbox_publish_latency_seconds_count") == latencies + 2
    observer.lag(12)
    assert sample("outbox_lag_events") == 12
    observer.leading(True)
    assert sample("outbox_relay_leader") == 1
    observer.leading(False)
    assert sample("outbox_relay_leader") == 0
    observer.publish_failed(ConnectionError())
    assert sample("outbox_publish_errors_total") == errors + 1
