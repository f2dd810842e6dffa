"""Re-send stored events to Kafka from a position on (consumers dedupe on stream version).

python -m services.write.entrypoints.republish --from-position 0
"""

import argparse
import asyncio
import sys
import time

from aiokafka.errors import KafkaError

from shared.contracts.envelope import START

from ..adapters.kafka import KafkaPublisher
from ..adapters.postgres import PostgresEventStore, create_pool
from ..settings import WriteSettings


async def republish(settings: WriteSettings, from_position: int, batch_size: int) -> int:
    """Publish every committed event with position >= from_position; returns the count."""
    pool = await create_pool(settings.dsn, min_size=1, max_size=2)
    publisher = KafkaPublisher(settings)
    sent, started, cursor = 0, time.monotonic(), START
    try:
        store = PostgresEventStore(pool)
        total = await store.count_after(START) if from_position == 0 else None
        await publisher.start()
        while events := await store.read_all(cursor, batch_size, min_position=from_position):
            await publisher.publish(events)
            sent += len(events)
            cursor = events[-1].cursor
            of = f"/{total}" if total else ""
            print(f"republished {sent}{of} events (up to position {cursor.position})", flush=True)
    finally:
        await publisher.stop()
        await pool.close()
    elapsed = time.monotonic() - started
    print(f"done: {sent} events republished in {elapsed:.1f}s", flush=True)
    return sent


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--from-position", type=int, default=0, help="first position to send")
    parser.add_argument("--batch-size", type=int, default=1000)
    args = parser.parse_args(argv)
    if args.from_position < 0:
        parser.error("--from-position must be >= 0")
    try:
        asyncio.run(republish(WriteSettings(), args.from_position, args.batch_size))
    except (OSError, KafkaError) as exc:
        print(f"republish failed: {exc}", file=sys.stderr)
        return 1
    return 0


if __name__ == "__main__":
    sys.exit(main())
