"""Prometheus helpers shared by both services."""

from prometheus_client import (
    CONTENT_TYPE_LATEST,
    REGISTRY,
    Counter,
    Gauge,
    Histogram,
    generate_latest,
)
from prometheus_client.registry import CollectorRegistry

LATENCY_BUCKETS = (
    0.001,
    0.0025,
    0.005,
    0.01,
    0.025,
    0.05,
    0.1,
    0.25,
    0.5,
    1.0,
    2.5,
    5.0,
    10.0,
    30.0,
)


def exposition(registry: CollectorRegistry = REGISTRY) -> tuple[bytes, str]:
    """The text exposition format of a registry, with its content type."""
    return generate_latest(registry), CONTENT_TYPE_LATEST


_REQUESTS = Counter(
    "http_requests_total", "HTTP requests answered", ["service", "method", "route", "status"]
)
_LATENCY = Histogram(
    "http_request_duration_seconds",
    "HTTP request latency",
    ["service", "route"],
    buckets=LATENCY_BUCKETS,
)


def http_metrics() -> tuple[Counter, Histogram]:
    """Request counter and latency histogram of the HTTP APIs (labelled by service per request)."""
    return _REQUESTS, _LATENCY


__all__ = ["Counter", "Gauge", "Histogram", "LATENCY_BUCKETS", "exposition", "http_metrics"]
