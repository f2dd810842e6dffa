"""Seal, in place, the personal values of events stored clear before sealing existed.

python -m services.write.entrypoints.encrypt_history [--batch-size 500] [--max-batches N]

The one exception to the event log's immutability: each event still holding a clear name,
email or address line is rewritten with those values sealed under its customer's key (the
event's type, ids, order and every other value unchanged), as an append of this version would
have stored it. A customer without a key gets one; an erased customer's values are sealed under
a key kept nowhere. Batches of `--batch-size` events, each in one transaction with the
checkpoint, so an interrupted run resumes where it stopped, and a second run rewrites nothing
(sealed values are skipped). It logs and prints counts, never a value.

Kafka records published before cannot be rewritten: they stay as they are until the topics'
retention drops them.
"""

import argparse
import asyncio
import logging
import sys
import time

from shared.plumbing.logging import configure_logging

from ..application.history_sealing import SealedBatch, SealingRun, seal_history
from ..application.ports import Refused, Unavailable
from ..bootstrap import sealing_history
from ..settings import WriteSettings

log = logging.getLogger("services.write.encrypt_history")


async def encrypt_history(
    settings: WriteSettings, *, batch_size: int, max_batches: int | None = None
) -> SealingRun:
    """Seal every clear personal value of the log (or `max_batches` batches of it)."""
    started = time.monotonic()
    async with sealing_history(settings) as sealer:
        run = await seal_history(
            sealer, batch_size=batch_size, max_batches=max_batches, progress=_progress
        )
        left = await sealer.clear_left()
    counts = vars(run.counts)
    log.info(
        "the log's clear personal values sealed in place (the one rewrite of stored events)",
        extra={**counts, "batches": run.batches, "finished": run.finished, "clear_left": left},
    )
    _summary(run, left, time.monotonic() - started)
    return run


def _progress(run: SealingRun, batch: SealedBatch) -> None:
    log.info(
        "batch sealed in place",
        extra={**vars(batch.counts), "position": batch.position, "head": batch.head},
    )
    print(
        f"batch {run.batches}: up to position {batch.position} of {batch.head},"
        f" {batch.counts.rewritten} of {batch.counts.scanned} events rewritten"
        f" ({run.counts.rewritten} so far)",
        flush=True,
    )


def _summary(run: SealingRun, left: int, seconds: float) -> None:
    counts = run.counts
    state = "done" if run.finished else f"stopped after {run.batches} batches (run it again)"
    print(
        f"{state}: {counts.scanned} events with personal data read, {counts.rewritten}"
        f" rewritten ({counts.values_sealed} values sealed, {counts.shredded} of erased"
        f" customers), {counts.keys_made} customer keys made, {counts.left_as_they_were} left"
        f" as they were; events still holding a clear value: {left}; {seconds:.1f}s",
        flush=True,
    )


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=(__doc__ or "").splitlines()[0])
    parser.add_argument("--batch-size", type=int, default=500, help="events per transaction")
    parser.add_argument("--max-batches", type=int, default=None, help="stop after N batches")
    args = parser.parse_args(argv)
    if not 1 <= args.batch_size <= 10_000:
        parser.error("--batch-size must be within 1..10000")
    if args.max_batches is not None and args.max_batches < 1:
        parser.error("--max-batches must be >= 1")
    settings = WriteSettings()
    configure_logging(settings.log_level, settings.log_format)
    try:
        asyncio.run(
            encrypt_history(settings, batch_size=args.batch_size, max_batches=args.max_batches)
        )
    except (Unavailable, Refused) as exc:
        print(f"encrypt-history failed: {exc}", file=sys.stderr)
        return 1
    return 0


if __name__ == "__main__":
    sys.exit(main())
