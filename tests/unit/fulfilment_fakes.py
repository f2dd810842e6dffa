"""In-memory doubles of the fulfilment process's ports, for unit tests."""

from datetime import UTC, datetime, timedelta


class FakeClock:
    """The database's clock, moved by the test."""

    def __init__(self, now: datetime | None = None) -> None:
        self.now = now or datetime(2026, 3, 1, 12, 0, tzinfo=UTC)

    def advance(self, by: timedelta) -> None:
        self.now += by
