"""`python -m services.read`: the query API with the projections' consumers."""

import uvicorn

from shared.logging import configure_logging

from .entrypoints.app import create_app
from .settings import ReadSettings


def main() -> None:
    settings = ReadSettings()
    configure_logging(settings.log_level, settings.log_format)
    uvicorn.run(
        create_app(settings),
        host=settings.read_host,
        port=settings.read_port,
        log_config=None,
        access_log=False,
        timeout_graceful_shutdown=10,
    )


if __name__ == "__main__":
    main()
