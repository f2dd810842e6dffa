"""The write service's /metrics: the event store's head is read for each scrape, never kept."""

from services.write.adapters.prometheus import PrometheusExposition
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
