"""Fixtures shared by every test tier: the servers (see tests/backends.py)."""

from tests.backends import (
    backends,
    kafka,
    mongo,
    pg_database,
    postgres,
    revive_stopped_servers,
)

__all__ = ["backends", "kafka", "mongo", "pg_database", "postgres", "revive_stopped_servers"]
