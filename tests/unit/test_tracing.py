"""Tracing's configuration from the standard variables, and what it adds to logs and links."""

import logging

import orjson
import pytest
from opentelemetry import trace
from opentelemetry.sdk.trace import TracerProvider
from opentelemetry.trace import SpanKind

from shared.plumbing import tracing
from shared.plumbing.logging import JsonFormatter
from shared.plumbing.settings import InvalidSettings

TRACEPARENT = "00-4bf92f3577b34da6a3ce929d0e0e4736-00f067aa0ba902b7-01"


@pytest.mark.parametrize(
    ("env", "names"),
    [
        ({}, []),
        ({"OTEL_TRACES_EXPORTER": "none"}, []),
        ({"OTEL_TRACES_EXPORTER": "otlp"}, ["otlp"]),
        ({"OTEL_TRACES_EXPORTER": "otlp, console"}, ["otlp", "console"]),
        ({"OTEL_EXPORTER_OTLP_ENDPOINT": "http://collector:4318"}, ["otlp"]),
        ({"OTEL_EXPORTER_OTLP_TRACES_ENDPOINT": "http://collector:4318/v1/traces"}, ["otlp"]),
        ({"OTEL_TRACES_EXPORTER": "none", "OTEL_EXPORTER_OTLP_ENDPOINT": "http://c:4318"}, []),
        ({"OTEL_TRACES_EXPORTER": "otlp", "OTEL_SDK_DISABLED": "true"}, []),
    ],
)
def test_tracing_is_on_only_when_an_exporter_is_named_or_an_endpoint_given(
    env: dict[str, str], names: list[str]
) -> None:
    assert tracing._exporter_names(env) == names


def test_an_unknown_exporter_or_protocol_is_refused_with_its_variable_named() -> None:
    with pytest.raises(InvalidSettings, match="OTEL_TRACES_EXPORTER: 'zipkin'"):
        tracing._exporter("zipkin", {})
    with pytest.raises(InvalidSettings, match="OTEL_EXPORTER_OTLP_PROTOCOL: 'http/json'"):
        tracing._exporter("otlp", {"OTEL_EXPORTER_OTLP_PROTOCOL": "http/json"})


def test_the_otlp_protocol_follows_the_traces_variable_first() -> None:
    http = tracing._exporter(
        "otlp",
        {
            "OTEL_EXPORTER_OTLP_PROTOCOL": "grpc",
            "OTEL_EXPORTER_OTLP_TRACES_PROTOCOL": "http/protobuf",
        },
    )
    grpc = tracing._exporter("otlp", {"OTEL_EXPORTER_OTLP_PROTOCOL": "grpc"})
    assert type(http).__module__.endswith("http.trace_exporter")
    assert type(grpc).__module__.endswith("grpc.trace_exporter")
    assert type(tracing._exporter("otlp", {})).__module__.endswith("http.trace_exporter")


def test_off_the_helpers_cost_nothing_and_change_nothing() -> None:
    assert not tracing.enabled()
    with tracing.span("anything") as current:
        assert current is None
        assert tracing.current_traceparent() is None
    assert tracing.links_to([TRACEPARENT]) == []


def _line(formatter: JsonFormatter) -> dict[str, object]:
    record = logging.LogRecord("t", logging.INFO, __file__, 1, "hello", None, None)
    parsed: dict[str, object] = orjson.loads(formatter.format(record))
    return parsed


def test_a_log_line_carries_the_trace_and_span_of_the_current_span() -> None:
    formatter = JsonFormatter()
    assert "trace_id" not in _line(formatter)
    tracer = TracerProvider().get_tracer("test")
    with tracer.start_as_current_span("work") as span:
        line = _line(formatter)
    found = span.get_span_context()
    assert line["trace_id"] == f"{found.trace_id:032x}"
    assert line["span_id"] == f"{found.span_id:016x}"


def test_an_answer_names_the_trace_of_its_request(monkeypatch: pytest.MonkeyPatch) -> None:
    tracer = TracerProvider().get_tracer("test")
    with tracer.start_as_current_span("request"):
        assert tracing.traceresponse() is None  # off: no header
        monkeypatch.setattr(tracing, "_ON", True)
        assert tracing.traceresponse() == tracing.current_traceparent() is not None
    assert tracing.traceresponse() is None  # outside any span


def test_links_name_each_distinct_valid_trace_once(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(tracing, "_ON", True)
    other = "00-0af7651916cd43dd8448eb211c80319c-b7ad6b7169203331-01"
    links = tracing.links_to([TRACEPARENT, None, "garbage", TRACEPARENT, other])
    assert [f"{link.context.trace_id:032x}" for link in links] == [
        "4bf92f3577b34da6a3ce929d0e0e4736",
        "0af7651916cd43dd8448eb211c80319c",
    ]


def test_a_command_span_continues_the_callers_trace_when_no_request_span_holds_it(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    """Without the HTTP instrumentation (a provider installed by whoever embeds the app), the
    command's span still joins the caller's trace; an invalid one starts a new trace."""
    tracer = TracerProvider().get_tracer("test")
    monkeypatch.setattr(tracing, "_TRACER", tracer)
    monkeypatch.setattr(tracing, "_ON", True)
    with tracing.span("command", headers={"traceparent": TRACEPARENT}) as joined:
        assert joined is not None
        kept = tracing.current_traceparent()
    assert kept is not None and kept.split("-")[1] == TRACEPARENT.split("-")[1]
    with tracing.span("command", headers={"traceparent": "00-bad-bad-01"}):
        fresh = tracing.current_traceparent()
    assert fresh is not None and fresh.split("-")[1] != TRACEPARENT.split("-")[1]
    with tracer.start_as_current_span("request") as request:  # the request's span wins
        with tracing.span("command", headers={"traceparent": TRACEPARENT}) as inner:
            assert inner is not None
            parent = inner.parent  # type: ignore[attr-defined]
    assert parent.span_id == request.get_span_context().span_id


def test_a_client_call_outside_any_span_starts_no_trace() -> None:
    """Background polls (the relay's reads, the pause checks) would start a trace each."""
    from opentelemetry.sdk.trace.sampling import ALWAYS_ON

    tracer = TracerProvider(sampler=tracing.quiet_background(ALWAYS_ON)).get_tracer("test")
    with tracer.start_as_current_span("SELECT", kind=SpanKind.CLIENT) as alone:
        assert not alone.is_recording()
    with tracer.start_as_current_span("relay publish") as batch:
        assert batch.is_recording()
        with tracer.start_as_current_span("INSERT", kind=SpanKind.CLIENT) as held:
            assert held.is_recording()


def test_a_provider_the_process_installed_before_building_the_app_gets_our_spans(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    monkeypatch.setattr(tracing, "_ON", False)
    tracing.instrument_app(object())  # only the API's proxy: still off
    assert not tracing.enabled()
    monkeypatch.setattr(trace, "get_tracer_provider", lambda: TracerProvider())
    tracing.instrument_app(object())  # not configured here: nothing is instrumented
    assert tracing.enabled()
