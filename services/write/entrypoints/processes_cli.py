"""`make processes`: the fulfilment process's instances as the running write service lists them
(GET /processes), as a table.

python -m services.write.entrypoints.processes_cli [--state active|suspended|completed|stuck]
                                                   [--url URL] [--max N]

The token is ACCESS_TOKEN's (one with ordering:operate; `make processes` gets one from the
running stack's issuer); without it the request carries none, as a service with AUTH_DISABLED
wants. The URL defaults to the write service of WRITE_PORT on this machine.
"""

import argparse
import os
import sys
from collections.abc import Sequence
from datetime import datetime
from typing import Any

import httpx

from ..application.processes import MAX_PAGE, ProcessState
from ..settings import WriteSettings

COLUMNS = ("order", "state", "stage", "reservations", "deadline", "attempts", "error")
ERROR_WIDTH = 60
DEFAULT_MAX = 1000


class ServiceError(Exception):
    """The write service could not be asked, or answered something else than a page."""


def _moment(value: str | None) -> str:
    """An RFC 3339 moment as `2026-12-06 23:40:05Z` (UTC to the second), or `-`."""
    if not value:
        return "-"
    moment = datetime.fromisoformat(value)
    return moment.strftime("%Y-%m-%d %H:%M:%S") + ("Z" if moment.utcoffset() is not None else "")


def _state(item: dict[str, Any]) -> str:
    return f"{item['state']}, stuck" if item.get("stuck") else str(item["state"])


def _reservations(held: dict[str, int]) -> str:
    return " ".join(f"{sku}:{quantity}" for sku, quantity in sorted(held.items())) or "-"


def _error(text: str | None) -> str:
    if not text:
        return "-"
    line = " ".join(text.split())  # one line, whatever the message held
    return line if len(line) <= ERROR_WIDTH else line[: ERROR_WIDTH - 1] + "…"


def row(item: dict[str, Any]) -> tuple[str, ...]:
    """One instance of GET /processes as a line of the table."""
    return (
        str(item["order_id"]),
        _state(item),
        str(item["stage"]),
        _reservations(item.get("reservations") or {}),
        _moment(item.get("deadline_at")),
        str(item.get("attempts", 0)),
        _error(item.get("error")),
    )


def render(items: Sequence[dict[str, Any]]) -> str:
    """The table of `items`, its columns as wide as their widest cell."""
    rows = [COLUMNS, *(row(item) for item in items)]
    widths = [max(len(r[i]) for r in rows) for i in range(len(COLUMNS))]
    lines = ("  ".join(cell.ljust(w) for cell, w in zip(r, widths, strict=True)) for r in rows)
    return "\n".join(line.rstrip() for line in lines)


def fetch(http: httpx.Client, state: str | None, most: int) -> tuple[list[dict[str, Any]], bool]:
    """Up to `most` instances, page after page, and whether more were left unread."""
    found: list[dict[str, Any]] = []
    cursor: str | None = None
    while True:
        params = {"limit": min(MAX_PAGE, most - len(found)), "state": state, "cursor": cursor}
        try:
            response = http.get("/processes", params={k: v for k, v in params.items() if v})
            body = response.json() if response.status_code == 200 else None
        except (httpx.HTTPError, ValueError) as exc:
            raise ServiceError(f"GET /processes: {exc!r}") from exc
        if not isinstance(body, dict):
            raise ServiceError(f"GET /processes answered {response.status_code}: {_why(response)}")
        found += body.get("items", [])
        cursor = body.get("next_cursor")
        if not cursor or len(found) >= most:
            return found[:most], bool(cursor) or len(found) > most


def _why(response: httpx.Response) -> str:
    """The problem's detail of a refusal (RFC 9457), or the start of whatever came instead."""
    try:
        detail = response.json().get("detail")
    except (ValueError, AttributeError):
        detail = None
    return str(detail) if detail else response.text[:200]


def summary(count: int, state: str | None, *, more: bool) -> str:
    """The line under the table: `2 suspended instances`, `no instances`."""
    which = f"{state} " if state else ""
    noun = "instance" if count == 1 else "instances"
    counted = f"{count} {which}{noun}" if count else f"no {which}instances"
    return counted + (f" (the first {count}: there are more)" if more else "")


def show(url: str, token: str | None, *, state: str | None, most: int) -> int:
    headers = {"Authorization": f"Bearer {token}"} if token else {}
    try:
        with httpx.Client(base_url=url, timeout=10, headers=headers) as http:
            found, more = fetch(http, state, most)
    except ServiceError as exc:
        print(f"the write service at {url}: {exc}", file=sys.stderr)
        return 1
    if found:
        print(render(found))
    print(summary(len(found), state, more=more))
    return 0


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m services.write.entrypoints.processes_cli")
    parser.add_argument("--state", choices=[s.value for s in ProcessState])
    parser.add_argument("--url", default=None, help="write service URL (default from WRITE_PORT)")
    parser.add_argument("--max", type=int, default=DEFAULT_MAX, help="list at most this many")
    args = parser.parse_args(argv)
    # a client of the service: it needs its port, not the settings (and keys) it serves with
    port = os.environ.get("WRITE_PORT") or WriteSettings.model_fields["write_port"].default
    url = args.url or f"http://127.0.0.1:{port}"
    token = os.environ.get("ACCESS_TOKEN") or None
    return show(url, token, state=args.state, most=max(1, args.max))


if __name__ == "__main__":
    sys.exit(main())
