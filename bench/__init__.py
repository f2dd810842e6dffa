"""The benchmark harness: `python -m bench` (or `make bench`). It measures, it never fails a build.

Parts: append (event store vs the eventsourcing library vs raw inserts), http (commands vs a bare
FastAPI endpoint), freshness (command to read API), rebuild (events/s, peak RSS), queries.
"""
