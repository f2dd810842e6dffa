"""`python -m services.write`: the HTTP API with its relay."""

from shared.plumbing.logging import configure_logging
from shared.plumbing.server import serve
from shared.plumbing.settings import load_settings
from shared.plumbing.tracing import configure as configure_tracing

from .entrypoints.app import create_app
from .settings import WriteSettings


def main() -> None:
    settings = load_settings(WriteSettings)
    configure_logging(settings.log_level, settings.log_format)
    configure_tracing("write-service")
    serve(
        create_app(settings),
        host=settings.write_host,
        port=settings.write_port,
        proxy_headers=settings.proxy_headers,
    )


if __name__ == "__main__":
    main()
