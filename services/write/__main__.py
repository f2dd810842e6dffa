"""`python -m services.write`: the HTTP API with its relay."""

import uvicorn

from shared.logging import configure_logging

from .entrypoints.app import create_app
from .settings import WriteSettings


def main() -> None:
    settings = WriteSettings()
    configure_logging(settings.log_level, settings.log_format)
    uvicorn.run(
        create_app(settings),
        host=settings.write_host,
        port=settings.write_port,
        log_config=None,
        access_log=False,
        timeout_graceful_shutdown=10,
    )


if __name__ == "__main__":
    main()
