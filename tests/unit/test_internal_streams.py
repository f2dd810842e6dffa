"""The write service's log holds its fulfilment process's own streams (stream type
`fulfilment`): rebuilds and gap healing pass their rows over, uncounted, never dead-lettered;
rows of event types unknown here are passed over and counted, as the live path does."""

from typing import Any
from uuid import uuid4

import httpx
import orjson
import pytest

from services.read.adapters.codec import from_rows
from services.read.adapters.write_api import WriteApi
from services.read.application.ports import LogPage, Undecodable
from services.read.application.rebuild import Rebuilder
from services.read.projections import stock
from services.read.projections.base import Event
from shared.contracts.events import StockReceived, fulfilment_stream_id, stock_stream_id
from tests.unit.applier_world import World
from tests.unit.read_fakes import FakeLog, FakeObserver

ORDER = uuid4()
Row = dict[str, Any]


def row(position: int, stream_type: str, event_type: str, data: Row, version: int = 1) -> Row:
    """A row as `GET /events` serves it."""
    streams = {"fulfilment": fulfilment_stream_id(ORDER), "stock": stock_stream_id("A")}
    return {
        "position": position,
        "event_id": str(uuid4()),
        "stream_type": stream_type,
        "stream_id": str(streams.get(stream_type, ORDER)),
        "version": version,
        "event_type": event_type,
        "schema_version": 1,
        "data": data,
        "metadata": {"actor": {"subject": "process:fulfilment"}},
        "recorded_at": "2030-01-02T03:04:05.678Z",
    }


RECEIVED = StockReceived(sku="A", on_hand=5, reserved=0, quantity=5).model_dump(mode="json")
LOG = [
    row(1, "stock", "StockReceived", RECEIVED),
    row(2, "fulfilment", "FulfilmentStarted", {"order_id": str(ORDER), "rules": 1}),
    # whatever an internal row holds, it is never looked at
    row(3, "fulfilment", "LineReserved", {"not": "a contract"}, version=2),
    row(4, "order", "OrderTeleported", {"to": "Mars"}),
]


@pytest.mark.parametrize("trusted", [True, False])
def test_rows_of_internal_streams_are_passed_over_and_unknown_types_counted(
    trusted: bool,
) -> None:
    rows = from_rows(LOG, trusted=trusted)
    assert [(e.stream_type, e.event_type) for e in rows.events] == [("stock", "StockReceived")]
    assert (rows.passed_over, rows.unknown) == (3, ["OrderTeleported"])
    with pytest.raises(Undecodable):  # what is not internal is still checked
        from_rows([row(5, "stock", "StockReceived", {"sku": "A"})], trusted=False)


def serving(pages: dict[str, Any]) -> WriteApi:
    """A client of a write service answering `pages` by path."""

    def answer(request: httpx.Request) -> httpx.Response:
        return httpx.Response(200, content=orjson.dumps(pages[request.url.path]))

    return WriteApi("http://write", transport=httpx.MockTransport(answer))


async def test_a_page_of_the_log_gives_its_events_and_counts_the_rows_passed_over() -> None:
    api = serving({"/events": {"events": LOG, "next": "c-4", "has_more": False}})
    try:
        page = await api.page(None, 10)
    finally:
        await api.close()
    assert [e.event_type for e in page.events] == ["StockReceived"]
    assert (page.next, page.has_more, page.passed_over) == ("c-4", False, 3)
    assert list(page.unknown) == ["OrderTeleported"]


async def test_healing_never_gives_the_events_of_an_internal_stream() -> None:
    stream = str(fulfilment_stream_id(ORDER))
    api = serving({f"/streams/{stream}/events": {"stream_id": stream, "events": LOG[1:3]}})
    try:
        assert await api.stream_events(stream, after_version=0) == []
    finally:
        await api.close()


class PassingOver(FakeLog):
    """A log whose every page of events also held `passed` rows not for the projections."""

    def __init__(self, events: list[Event], passed: int, unknown: tuple[str, ...]) -> None:
        super().__init__(events, page_size=1)
        self.passed, self.unknown = passed, unknown

    async def head_position(self) -> int:
        return len(self.events) * (1 + self.passed)

    async def page(self, after: str | None, limit: int) -> LogPage:
        found = await super().page(after, limit)
        if not found.events:  # the end of the log
            return found
        return LogPage(found.events, found.next, found.has_more, self.passed, self.unknown)


async def test_a_rebuild_counts_the_rows_it_passed_over_as_read_and_only_unknown_types() -> None:
    events = from_rows(LOG[:1]).events
    world = World(stock.PROJECTION)
    observer = FakeObserver()
    rebuilder = Rebuilder(
        stock.PROJECTION,
        heal=_no_gaps,
        versions=world.versions,
        control=world.control,
        log_=PassingOver(events, 2, ("OrderTeleported",)),
        observer=observer,
        switch_grace=0,
    )
    progress = await rebuilder.rebuild()
    assert (progress.phase, progress.events, progress.total, progress.ratio) == ("done", 3, 3, 1)
    assert observer.unknown == [("stock", "OrderTeleported")]
    assert world.versions.live("stock", 2).docs["main"][events[0].stream_id]["on_hand"] == 5


async def _no_gaps(stream_id: str, have: int) -> list[Event]:
    raise AssertionError(f"no gap expected in {stream_id}")
