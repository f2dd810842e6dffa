"""`python -m services.read`: the query API with the projections' consumers."""

from shared.plumbing.logging import configure_logging
from shared.plumbing.server import serve
from shared.plumbing.settings import load_settings
from shared.plumbing.tracing import configure as configure_tracing

from .entrypoints.app import create_app
from .settings import ReadSettings


def main() -> None:
    settings = load_settings(ReadSettings)
    configure_logging(settings.log_level, settings.log_format)
    configure_tracing("read-service")
    serve(
        create_app(settings),
        host=settings.read_host,
        port=settings.read_port,
        proxy_headers=settings.proxy_headers,
    )


if __name__ == "__main__":
    main()
