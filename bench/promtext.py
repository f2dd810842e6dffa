"""Reading the services' Prometheus histograms, to tell which stage of a pipeline took the time."""

from __future__ import annotations

import re

from .httpclient import HttpPool
from .stats import ratio

Samples = dict[str, float]  # "name{labels}" -> value
_LINE = re.compile(r"^(?P<key>[a-zA-Z_:][\w:]*(?:\{[^}]*\})?)\s+(?P<value>\S+)$")


def parse(text: str) -> Samples:
    """The samples of a Prometheus text exposition (comments skipped)."""
    samples: Samples = {}
    for line in text.splitlines():
        if (found := _LINE.match(line)) is not None:
            try:
                samples[found["key"]] = float(found["value"])
            except ValueError:
                continue
    return samples


async def scrape(pool: HttpPool) -> Samples:
    response = await pool.request("GET", "/metrics")
    return parse(response.body.decode()) if response.status == 200 else {}


def mean_between(before: Samples, after: Samples, histogram: str, labels: str = "") -> float:
    """Mean of a histogram's observations made between two scrapes, in milliseconds."""
    suffix = "{" + labels + "}" if labels else ""
    total = after.get(f"{histogram}_sum{suffix}", 0.0) - before.get(f"{histogram}_sum{suffix}", 0.0)
    count = after.get(f"{histogram}_count{suffix}", 0.0) - before.get(
        f"{histogram}_count{suffix}", 0.0
    )
    return ratio(total, count) * 1000
