"""Operator commands of the read service.

python -m services.read.cli projections            the status table
python -m services.read.cli dead-letters [--replay] [--projection NAME]
python -m services.read.cli rebuild [--projection NAME]
"""

import argparse
import asyncio
import gc
import sys
import time
from typing import Any

import httpx

from shared.plumbing.tracing import configure as configure_tracing

from .adapters.control import ControlState, RebuildRefused
from .adapters.dead_letters import DeadLetters
from .adapters.mongo import document_count
from .adapters.tokens import ClientCredentials, TokenUnavailable, bearer_auth
from .application.ports import Refused, Unavailable
from .application.rebuild import Progress
from .application.status import ProjectionStatus
from .bootstrap import rebuilder, replays
from .connections import Connections, connect
from .projections import PROJECTIONS
from .settings import ReadSettings

# A rebuild keeps tens of thousands of documents in its buffer for its whole run. With the
# collector's default (a young collection every 700 allocations, the older generations every
# 10 of those) a quarter of the command's CPU went to collections that re-scan them: 1.7 to
# 2.6 s of 7.4 s per projection over 200,000 events. Every 10,000 allocations: 0.35 to 0.5 s.
REBUILD_GC_THRESHOLD = (10_000, 10, 10)
COLUMNS = ("projection", "state", "version", "position", "lag", "lag s", "applied", "dead", "docs")


async def show_projections(settings: ReadSettings, url: str) -> int:
    """The status table: each projection's status as the read service shows it (GET
    /projections), and the documents of its active version."""
    connections = connect(settings)
    try:
        live = await _live_status(url, connections.tokens)
        rows = [COLUMNS] + [await _row(connections, name, live.get(name)) for name in PROJECTIONS]
    except Unavailable as exc:
        print(f"cannot read the projections' state: {exc}", file=sys.stderr)
        return 1
    finally:
        await connections.close()
    widths = [max(len(r[i]) for r in rows) for i in range(len(COLUMNS))]
    for row in rows:
        print("  ".join(cell.ljust(w) for cell, w in zip(row, widths, strict=True)))
    return 0


async def _row(
    connections: Connections, name: str, status: ProjectionStatus | None
) -> tuple[str, ...]:
    """One line of the table; without the service's status, what MongoDB alone tells."""
    db = connections.db
    active = await ControlState(db).collections(name)
    docs = str(await document_count(db, active.main))
    if status is None:
        dead = str(await DeadLetters(db).count(name))
        unknown = "unknown (read service not answering)"
        return (name, unknown, str(active.version), "-", "-", "-", "-", dead, docs)
    return (
        name,
        status.state,
        str(status.active_version),
        str(status.position),
        str(status.lag_events),
        str(status.lag_seconds),
        str(status.events_applied),
        str(status.dead_letters),
        docs,
    )


async def _live_status(url: str, tokens: ClientCredentials | None) -> dict[str, ProjectionStatus]:
    try:
        async with httpx.AsyncClient(base_url=url, timeout=5, auth=bearer_auth(tokens)) as http:
            response = await http.get("/projections")
            body = response.json()
    except (httpx.HTTPError, ValueError, TokenUnavailable) as exc:
        print(f"the read service's /projections: {exc}", file=sys.stderr)
        return {}
    if response.status_code != 200:
        print(f"the read service's /projections answered {response.status_code}", file=sys.stderr)
        return {}
    try:
        return {p["name"]: ProjectionStatus.parse(p) for p in body.get("projections", [])}
    except (KeyError, TypeError, AttributeError) as exc:
        print(f"the read service's /projections is not a status: {exc!r}", file=sys.stderr)
        return {}


async def dead_letters(settings: ReadSettings, *, replay: bool, projection: str | None) -> int:
    connections = connect(settings)
    failed = 0
    try:
        letters = replays(connections)
        found = await letters.store.list(projection)
        print(f"{len(found)} dead letters" + (f" for {projection}" if projection else ""))
        for letter in found:
            where = f"{letter['topic']}/{letter['partition']}@{letter['offset']}"
            print(f"- {letter['projection']:<14} {where:<28} {letter['error'][:90]}")
            if replay:
                outcome = await letters.replay(letter)
                failed += not outcome.applied
                if outcome.error:
                    print(f"  error: {outcome.error}")
                print(f"  replayed: {'applied' if outcome.applied else 'still failing'}")
    finally:
        await connections.close()
    return 1 if failed else 0


class ProgressPrinter:
    """A progress bar on a terminal, plain lines (every 2 s) otherwise."""

    def __init__(self, stream: Any = sys.stdout) -> None:
        self.stream = stream
        self.tty = stream.isatty()
        self.last = 0.0

    def __call__(self, p: Progress) -> None:
        now = time.monotonic()
        if not self.tty and now - self.last < 2.0 and p.events < p.total:
            return
        self.last = now
        eta = f"{p.eta:.0f}s" if p.eta is not None else "-"
        text = (
            f"{p.projection}: {p.events:,}/{p.total:,} events ({p.ratio:.0%})"
            f" {p.rate:,.0f} ev/s ETA {eta} [{p.phase}]"
        )
        if self.tty:
            filled = int(p.ratio * 30)
            bar = "#" * filled + "." * (30 - filled)
            self.stream.write(f"\r[{bar}] {text}\033[K")
        else:
            self.stream.write(text + "\n")
        self.stream.flush()

    def summary(self, p: Progress) -> None:
        if self.tty:
            self.stream.write("\n")
        self.stream.write(
            f"{p.projection}: rebuilt version {p.target_version}: {p.events:,} events replayed,"
            f" {p.documents:,} documents, {p.elapsed:.1f} s, {p.rate:,.0f} events/s,"
            f" peak RSS {p.peak_rss_mb:.0f} MB\n"
            f"  serving it after {p.switched_after:.2f} s: replay {p.replay_seconds:.2f} s,"
            f" writing {p.writing_seconds:.2f} s, MongoDB indexes {p.indexing_seconds:.2f} s,"
            f" pause {p.pausing_seconds:.2f} s\n"
            f"  {p.writes:,} document writes, {p.read_back:,} documents read back\n"
        )
        if p.read_back:  # writing a document twice alone also comes from the catch-up
            self.stream.write("  documents had to come back: REBUILD_BUFFER_MB was short\n")
        self.stream.flush()


async def rebuild(settings: ReadSettings, projections: list[str], page_size: int) -> int:
    gc.set_threshold(*REBUILD_GC_THRESHOLD)
    connections = connect(settings)
    printer = ProgressPrinter()
    try:
        for name in projections:
            rebuilding = rebuilder(
                connections, settings, name, page_size=page_size, on_progress=printer
            )
            printer.summary(await rebuilding.rebuild())
    except RebuildRefused as exc:
        print(f"refused: {exc}", file=sys.stderr)
        return 2
    except (Unavailable, Refused, TimeoutError) as exc:
        print(f"\nrebuild failed, the active version keeps serving: {exc}", file=sys.stderr)
        return 1
    finally:
        await connections.close()
    return 0


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m services.read.cli")
    commands = parser.add_subparsers(dest="command", required=True)
    status = commands.add_parser("projections", help="print the projections' status table")
    status.add_argument("--url", default=None, help="read service URL (default from READ_PORT)")
    letters = commands.add_parser("dead-letters", help="list (and replay) dead letters")
    letters.add_argument("--replay", action="store_true")
    letters.add_argument("--projection", choices=sorted(PROJECTIONS))
    build = commands.add_parser("rebuild", help="rebuild projections from the full history")
    build.add_argument("--projection", choices=sorted(PROJECTIONS))
    build.add_argument("--page-size", type=int, default=2000)
    args = parser.parse_args(argv)
    settings = ReadSettings()
    if args.command == "rebuild":
        configure_tracing("read-service-rebuild")
        names = [args.projection] if args.projection else list(PROJECTIONS)
        return asyncio.run(rebuild(settings, names, args.page_size))
    if args.command == "projections":
        url = args.url or f"http://127.0.0.1:{settings.read_port}"
        return asyncio.run(show_projections(settings, url))
    return asyncio.run(dead_letters(settings, replay=args.replay, projection=args.projection))


if __name__ == "__main__":
    sys.exit(main())
