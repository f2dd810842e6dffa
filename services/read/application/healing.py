"""Gap healing, the same for the live path and rebuilds: when a document is more than one
version behind an event (`Gap`, projections/base.py), the events in between come from the write
service's history of that stream."""

from ..projections.base import Event, Heal
from .ports import StreamReader


def healer(streams: StreamReader) -> Heal:
    """The `Heal` that asks `streams` for a stream's events after the version a document has."""

    async def heal(stream_id: str, have: int) -> list[Event]:
        return await streams.stream_events(stream_id, after_version=have)

    return heal
