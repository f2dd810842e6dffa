"""OpenTelemetry tracing, configured only by the standard `OTEL_*` variables and off unless an
exporter is named (`OTEL_TRACES_EXPORTER`) or an OTLP endpoint is given.

When on, the maintained instrumentations trace FastAPI, asyncpg, aiokafka, pymongo and httpx;
`span` adds the spans they cannot see. When off, nothing is installed and `span` costs a check.
"""

import contextlib
import logging
import os
from collections.abc import Iterable, Iterator, Mapping
from typing import Any

from fastapi.telemetry import TelemetryConfig
from opentelemetry import context, propagate, trace
from opentelemetry.trace import Link, Span, SpanKind

from .redaction import without_query_values
from .settings import InvalidSettings

log = logging.getLogger(__name__)

_TRACER = trace.get_tracer("ordering")
_ON = False  # an SDK tracer provider is installed (by `configure`, or by whoever embeds us)
_CONFIGURED = False  # `configure` installed it, with the instrumentations
# A span links at most this many records' traces unless OTEL_SPAN_LINK_COUNT_LIMIT says
# otherwise: enough for a relay batch (one link per command, not per event).
DEFAULT_LINK_LIMIT = 1024
_PROTOCOLS = ("http/protobuf", "grpc")
# FastAPI's own telemetry, off in both apps: its spans stand down before the maintained
# instrumentation (instrument_app), and the services record no OpenTelemetry metrics or logs
# (metrics are Prometheus'). On, it would only cost every request its look at the global
# providers.
FASTAPI_TELEMETRY: TelemetryConfig = {"tracing": False, "metrics": False, "logs": False}


def enabled() -> bool:
    """Whether spans are recorded: `configure` turned tracing on, or the process had installed
    a tracer provider of its own when it built the app (see `instrument_app`). A flag, read on
    every command's path."""
    return _ON


def producer_writes_traceparent() -> bool:
    """Whether aiokafka's instrumentation adds each record's `traceparent` as it sends it."""
    if not enabled():
        return False
    from opentelemetry.instrumentation.aiokafka import AIOKafkaInstrumentor

    return bool(AIOKafkaInstrumentor().is_instrumented_by_opentelemetry)


_OFF: contextlib.AbstractContextManager[None] = contextlib.nullcontext()


def span(
    name: str,
    *,
    attributes: Mapping[str, Any] | None = None,
    links: Iterable[Link] = (),
    kind: SpanKind = SpanKind.INTERNAL,
    headers: Mapping[str, str] | None = None,
) -> contextlib.AbstractContextManager[Span | None]:
    """A span around the block, current inside it (None when tracing is off). With `headers`
    (a request's) and no span around it yet, it continues the trace their `traceparent` names."""
    if not enabled():
        return _OFF
    parent = None
    if headers is not None and not trace.get_current_span().get_span_context().is_valid:
        parent = propagate.extract(headers)
    return _TRACER.start_as_current_span(
        name, context=parent, kind=kind, attributes=dict(attributes or {}), links=list(links)
    )


def current_traceparent() -> str | None:
    """The W3C `traceparent` of the current span, or None outside any."""
    carrier: dict[str, str] = {}
    propagate.inject(carrier)
    return carrier.get("traceparent")


def traceresponse() -> str | None:
    """The current span as a W3C `traceresponse` header (same form as a traceparent): how a
    caller learns the trace of its request."""
    if not enabled():
        return None
    found = trace.get_current_span().get_span_context()
    if not found.is_valid:
        return None
    return f"00-{found.trace_id:032x}-{found.span_id:016x}-{int(found.trace_flags):02x}"


def links_to(traceparents: Iterable[str | None]) -> list[Link]:
    """One link per distinct valid traceparent (records of one command share theirs); none
    when tracing is off."""
    if not enabled():
        return []
    links: dict[tuple[int, int], Link] = {}
    for value in traceparents:
        if value is None:
            continue
        found = trace.get_current_span(propagate.extract({"traceparent": value}))
        span_context = found.get_span_context()
        if span_context.is_valid:
            links.setdefault((span_context.trace_id, span_context.span_id), Link(span_context))
    return list(links.values())


def within(traceparent: str | None) -> contextlib.AbstractContextManager[None]:
    """The block runs in the trace `traceparent` names (unchanged when there is none), so what
    it traces joins that trace: the relay sends each event in its command's trace."""
    if traceparent is None or not enabled():
        return _OFF
    return _attached(traceparent)


@contextlib.contextmanager
def _attached(traceparent: str) -> Iterator[None]:
    token = context.attach(propagate.extract({"traceparent": traceparent}))
    try:
        yield
    finally:
        context.detach(token)


def log_fields() -> dict[str, str]:
    """`trace_id` and `span_id` of the current span, for a log line (none outside a span)."""
    found = trace.get_current_span().get_span_context()
    if not found.is_valid:
        return {}
    return {"trace_id": f"{found.trace_id:032x}", "span_id": f"{found.span_id:016x}"}


def _exporter_names(env: Mapping[str, str]) -> list[str]:
    if env.get("OTEL_SDK_DISABLED", "").strip().lower() == "true":
        return []
    named = env.get("OTEL_TRACES_EXPORTER")
    if named is None:  # an endpoint alone means OTLP
        given = env.get("OTEL_EXPORTER_OTLP_TRACES_ENDPOINT") or env.get(
            "OTEL_EXPORTER_OTLP_ENDPOINT"
        )
        return ["otlp"] if given else []
    names = [n.strip().lower() for n in named.split(",") if n.strip()]
    return [] if names in ([], ["none"]) else [n for n in names if n != "none"]


def _exporter(name: str, env: Mapping[str, str]) -> Any:
    if name == "console":
        from opentelemetry.sdk.trace.export import ConsoleSpanExporter

        return ConsoleSpanExporter()
    if name != "otlp":
        raise InvalidSettings(f"OTEL_TRACES_EXPORTER: {name!r} is not one of otlp, console, none")
    protocol = (
        env.get("OTEL_EXPORTER_OTLP_TRACES_PROTOCOL")
        or env.get("OTEL_EXPORTER_OTLP_PROTOCOL")
        or "http/protobuf"
    ).strip()
    if protocol == "grpc":
        from opentelemetry.exporter.otlp.proto.grpc.trace_exporter import OTLPSpanExporter

        return OTLPSpanExporter()
    if protocol == "http/protobuf":
        from opentelemetry.exporter.otlp.proto.http.trace_exporter import (
            OTLPSpanExporter as HttpExporter,
        )

        return HttpExporter()
    raise InvalidSettings(
        f"OTEL_EXPORTER_OTLP_PROTOCOL: {protocol!r} is not one of {', '.join(_PROTOCOLS)}"
    )


def configure(service_name: str, env: Mapping[str, str] | None = None) -> bool:
    """Install tracing for this process when the environment asks for it; True when on.

    The service name, sampler, exporter endpoint, headers and batching all come from the
    standard variables (`OTEL_SERVICE_NAME`, `OTEL_TRACES_SAMPLER`, `OTEL_EXPORTER_OTLP_*`,
    `OTEL_BSP_*`); `service_name` is used when none is given.
    """
    global _ON, _CONFIGURED
    env = os.environ if env is None else env
    names = _exporter_names(env)
    if not names or _CONFIGURED:
        return _CONFIGURED
    from opentelemetry.sdk.resources import SERVICE_NAME, Resource
    from opentelemetry.sdk.trace import SpanLimits, TracerProvider
    from opentelemetry.sdk.trace.export import BatchSpanProcessor

    exporters = [_exporter(name, env) for name in names]
    resource = Resource.create()
    if str(resource.attributes.get(SERVICE_NAME, "")).startswith("unknown_service"):
        resource = Resource.create({SERVICE_NAME: service_name})
    limits = SpanLimits(
        max_links=None if "OTEL_SPAN_LINK_COUNT_LIMIT" in env else DEFAULT_LINK_LIMIT
    )
    configured = TracerProvider(shutdown_on_exit=False).sampler  # OTEL_TRACES_SAMPLER's
    provider = TracerProvider(
        resource=resource, span_limits=limits, sampler=quiet_background(configured)
    )
    for exporter in exporters:
        provider.add_span_processor(BatchSpanProcessor(exporter))
    trace.set_tracer_provider(provider)
    _instrument_libraries()
    _ON = _CONFIGURED = True
    log.info(
        "tracing on",
        extra={"exporters": names, "service": resource.attributes.get(SERVICE_NAME)},
    )
    return True


def _disabled() -> set[str]:
    """The instrumentations `OTEL_PYTHON_DISABLED_INSTRUMENTATIONS` leaves out (e.g. `asyncpg`)."""
    named = os.environ.get("OTEL_PYTHON_DISABLED_INSTRUMENTATIONS", "")
    return {name.strip().lower() for name in named.split(",") if name.strip()}


def quiet_background(inner: Any) -> Any:
    """`inner`, except that a client call outside any span starts no trace: the background polls
    (the relay's reads, the consumers' pause checks, the lag reader) would otherwise start one
    every second, burying the commands' traces."""
    from opentelemetry.sdk.trace.sampling import Decision, Sampler, SamplingResult

    class QuietBackground(Sampler):
        def should_sample(
            self,
            parent_context: Any,
            trace_id: int,
            name: str,
            kind: SpanKind | None = None,
            attributes: Any = None,
            links: Any = None,
            trace_state: Any = None,
        ) -> Any:
            parent = trace.get_current_span(parent_context).get_span_context()
            if kind is SpanKind.CLIENT and not parent.is_valid:
                return SamplingResult(Decision.DROP)
            return inner.should_sample(
                parent_context, trace_id, name, kind, attributes, links, trace_state
            )

        def get_description(self) -> str:
            return f"QuietBackground{{{inner.get_description()}}}"

    return QuietBackground()


def _instrument_libraries() -> None:
    from opentelemetry.instrumentation.aiokafka import AIOKafkaInstrumentor
    from opentelemetry.instrumentation.asyncpg import AsyncPGInstrumentor
    from opentelemetry.instrumentation.httpx import HTTPXClientInstrumentor
    from opentelemetry.instrumentation.pymongo import PymongoInstrumentor

    disabled = _disabled()
    if "asyncpg" not in disabled:
        AsyncPGInstrumentor().instrument()  # type: ignore[no-untyped-call]
    if "aiokafka" not in disabled:
        AIOKafkaInstrumentor().instrument()
    if "pymongo" not in disabled:
        PymongoInstrumentor().instrument()
    if "httpx" not in disabled:
        HTTPXClientInstrumentor().instrument()


# Probes and scrapes come every few seconds: traced, they would bury the requests that matter.
_UNTRACED_URLS = "/health/.*,/metrics"


def instrument_app(app: Any) -> None:
    """Trace the app's requests (the server span every command's trace starts from), when on;
    `OTEL_PYTHON_FASTAPI_EXCLUDED_URLS` replaces the probes and metrics left out by default.

    A process that installed an SDK tracer provider itself before building the app (a host
    application, a test with an in-memory exporter) gets our spans too, and instruments what
    it wants itself (the API's default proxy records nothing)."""
    global _ON
    if not _ON and not isinstance(trace.get_tracer_provider(), trace.ProxyTracerProvider):
        _ON = True
    if not _CONFIGURED or "fastapi" in _disabled():
        return
    from opentelemetry.instrumentation.fastapi import FastAPIInstrumentor

    excluded = os.environ.get("OTEL_PYTHON_FASTAPI_EXCLUDED_URLS", _UNTRACED_URLS)
    FastAPIInstrumentor.instrument_app(app, excluded_urls=excluded, **SERVER_SPAN_OPTIONS)


SERVER_SPAN_OPTIONS: dict[str, Any] = {
    # one span a request: not one more for each ASGI message it reads or sends
    "exclude_spans": ["receive", "send"],
    "server_request_hook": without_query_values,
}
