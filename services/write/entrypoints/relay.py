"""The relay alone, without the HTTP API (which runs one of its own unless RELAY_ENABLED=false):

python -m services.write.entrypoints.relay
"""

import asyncio
import contextlib

from shared.plumbing.logging import configure_logging

from ..bootstrap import standalone_relay
from ..settings import WriteSettings


async def main() -> None:
    settings = WriteSettings()
    configure_logging(settings.log_level, settings.log_format)
    async with standalone_relay(settings) as relay:
        await relay.run()


if __name__ == "__main__":
    with contextlib.suppress(KeyboardInterrupt):
        asyncio.run(main())
