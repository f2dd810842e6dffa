"""Re-send stored events to Kafka from a position on (consumers dedupe on stream version).

python -m services.write.entrypoints.republish --from-position 0
"""

import argparse
import asyncio
import sys
import time

from shared.plumbing.tracing import configure as configure_tracing

from ..application.ports import PartialPublish, Unavailable
from ..application.republish import Progress, republish_events
from ..bootstrap import republishing
from ..settings import WriteSettings


async def republish(settings: WriteSettings, from_position: int, batch_size: int) -> int:
    """Publish every committed event with position >= from_position; returns the count."""
    async with republishing(settings) as (feed, publisher):
        started = time.monotonic()
        sent = await republish_events(
            feed,
            publisher,
            from_position=from_position,
            batch_size=batch_size,
            progress=_print_progress,
        )
    elapsed = time.monotonic() - started
    print(f"done: {sent} events republished in {elapsed:.1f}s", flush=True)
    return sent


def _print_progress(progress: Progress) -> None:
    of = f"/{progress.total}" if progress.total else ""
    print(
        f"republished {progress.sent}{of} events (up to position {progress.position})", flush=True
    )


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--from-position", type=int, default=0, help="first position to send")
    parser.add_argument("--batch-size", type=int, default=1000)
    args = parser.parse_args(argv)
    if args.from_position < 0:
        parser.error("--from-position must be >= 0")
    configure_tracing("write-service-republish")
    try:
        asyncio.run(republish(WriteSettings(), args.from_position, args.batch_size))
    except (Unavailable, PartialPublish) as exc:
        print(f"republish failed: {exc}", file=sys.stderr)
        return 1
    return 0


if __name__ == "__main__":
    sys.exit(main())
