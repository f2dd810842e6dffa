"""`make processes`: the table it prints of GET /processes, and how it reads the pages."""

from typing import Any

import httpx
import pytest

from services.write.entrypoints import processes_cli
from services.write.entrypoints.processes_cli import COLUMNS, fetch, render, row, summary

ORDER = "0b7c6f7e-3f0e-4a53-9d7e-3f1c2b9a8d01"


def item(**changes: Any) -> dict[str, Any]:
    found = {
        "order_id": ORDER,
        "state": "active",
        "stage": "reserved",
        "reservations": {"B-2": 1, "A-1": 2},
        "deadline_at": "2026-12-06T23:40:05.123456Z",
        "attempts": 0,
        "error": None,
        "progressed_at": "2026-12-06T23:10:05Z",
        "updated_at": "2026-12-06T23:10:05Z",
        "stuck": False,
    }
    return {**found, **changes}


def test_a_line_shows_what_an_operator_acts_on() -> None:
    assert row(item()) == (
        ORDER,
        "active",
        "reserved",
        "A-1:2 B-2:1",
        "2026-12-06 23:40:05Z",
        "0",
        "-",
    )
    waiting = row(item(stage="pending", reservations={}, deadline_at=None, stuck=True))
    assert waiting[1:5] == ("active, stuck", "pending", "-", "-")


def test_a_long_error_is_cut_to_one_short_line() -> None:
    error = "Refused: UniqueViolationError:\n  duplicate key " + "x" * 200
    cell = row(item(state="suspended", attempts=3, error=error))[-1]
    assert "\n" not in cell and len(cell) == processes_cli.ERROR_WIDTH
    assert cell.startswith("Refused: UniqueViolationError: duplicate key") and cell.endswith("…")


def test_the_columns_line_up_under_their_headers() -> None:
    other = "ffffffff-0000-4000-8000-000000000000"
    lines = render([item(), item(order_id=other, state="suspended", attempts=3, error="boom")])
    header, first, second = lines.splitlines()
    assert header.split() == list(COLUMNS)
    for name in ("state", "stage", "reservations", "deadline", "attempts", "error"):
        start = header.index(name)
        assert first[start - 2 : start] == "  " and second[start - 2 : start] == "  "
        assert first[start] != " " and second[start] != " "
    assert second.endswith("boom") and not first.endswith(" ")


def test_the_summary_counts_and_says_when_more_were_left() -> None:
    assert summary(0, None, more=False) == "no instances"
    assert summary(0, "suspended", more=False) == "no suspended instances"
    assert summary(1, "suspended", more=False) == "1 suspended instance"
    assert summary(5, None, more=True) == "5 instances (the first 5: there are more)"


def paged(pages: list[list[dict[str, Any]]], asked: list[httpx.Request]) -> httpx.Client:
    """A client of a service that answers `pages` one after the other, cursor by cursor."""

    def answer(request: httpx.Request) -> httpx.Response:
        asked.append(request)
        at = int(request.url.params.get("cursor", "0"))
        more = str(at + 1) if at + 1 < len(pages) else None
        return httpx.Response(200, json={"items": pages[at], "next_cursor": more})

    return httpx.Client(base_url="http://write", transport=httpx.MockTransport(answer))


def test_every_page_is_read_with_the_cursor_of_the_one_before() -> None:
    asked: list[httpx.Request] = []
    pages = [[item(order_id=f"o{i}-{j}") for j in range(2)] for i in range(3)]
    with paged(pages, asked) as http:
        found, more = fetch(http, "suspended", 1000)
    assert [f["order_id"] for f in found] == [f"o{i}-{j}" for i in range(3) for j in range(2)]
    assert not more
    assert [r.url.params.get("cursor") for r in asked] == [None, "1", "2"]
    assert {r.url.params["state"] for r in asked} == {"suspended"}


def test_reading_stops_at_the_most_asked_for() -> None:
    asked: list[httpx.Request] = []
    with paged([[item()] * 2] * 5, asked) as http:
        found, more = fetch(http, None, 3)
    assert (len(found), more) == (3, True)
    assert [r.url.params["limit"] for r in asked] == ["3", "1"]
    assert "state" not in asked[0].url.params


def test_a_refusal_says_why() -> None:
    def refuse(request: httpx.Request) -> httpx.Response:
        problem = {"status": 403, "detail": "this needs a token with ordering:operate"}
        return httpx.Response(403, json=problem)

    with (
        httpx.Client(base_url="http://write", transport=httpx.MockTransport(refuse)) as http,
        pytest.raises(processes_cli.ServiceError, match="403: this needs a token"),
    ):
        fetch(http, None, 10)
