"""The append part's pure helpers: what the Emmett peer is given and what is read back from it,
when its packages are installed, and the table of engines side by side."""

import os
import shutil
from pathlib import Path

import orjson
import pytest

from bench import append_emmett
from bench.append import per_round, side_by_side
from bench.append_emmett import EmmettFailed, needs_install, packages, parse_output, workload
from bench.append_engines import EngineRun, payload_sizes


def test_emmett_gets_the_same_payloads_as_the_other_engines() -> None:
    given = workload("postgresql://db/x", writers=8, seconds=5.0)
    assert (given["url"], given["writers"], given["seconds"]) == ("postgresql://db/x", 8, 5.0)
    sizes = payload_sizes()  # of the 2nd OrderPlaced and the 3rd OrderItemAdded
    assert len(orjson.dumps(given["placed"][1])) == sizes["OrderPlaced"]
    assert len(orjson.dumps(given["added"][2])) == sizes["OrderItemAdded"]
    assert len(given["placed"]) == len(given["added"]) == 16
    assert len(given["metadata"]) == 64
    assert {"correlation_id", "causation_id", "traceparent"} <= given["metadata"][0].keys()
    assert orjson.loads(orjson.dumps(given)) == given  # it travels to Node as JSON


def test_the_script_result_is_its_last_line() -> None:
    out = 'a warning\n{"events": 10, "seconds": 1.5, "schema_seconds": 0.2}\n\n'
    assert parse_output(out) == {"events": 10, "seconds": 1.5, "schema_seconds": 0.2}
    with pytest.raises(EmmettFailed):
        parse_output("")
    with pytest.raises(EmmettFailed):
        parse_output("Error: connect ECONNREFUSED")
    with pytest.raises(EmmettFailed):
        parse_output('{"events": 10}')


def test_packages_are_installed_once_and_again_when_the_lock_changes(tmp_path: Path) -> None:
    lock, installed = tmp_path / "package-lock.json", tmp_path / ".package-lock.json"
    lock.write_text("{}")
    assert needs_install(installed, lock)
    installed.write_text("{}")
    os.utime(lock, (1_000, 1_000))
    assert not needs_install(installed, lock)
    os.utime(lock, (installed.stat().st_mtime + 10,) * 2)
    assert needs_install(installed, lock)


def test_the_emmett_packages_are_pinned_to_exact_versions() -> None:
    pinned = packages()
    assert "@event-driven-io/emmett-postgresql" in pinned
    assert all(version[0].isdigit() for version in pinned.values())


def test_engines_side_by_side_against_raw_inserts_and_ours() -> None:
    rows = side_by_side({"raw": 4000.0, "ours": 2000.0, "emmett": 1000.0})
    assert rows[0] == ("engine", "events/s", "of raw INSERT", "ours is")
    assert rows[2][1:] == ("2,000", "50.0%", "1.00x")
    assert rows[3] == ("Emmett PostgreSQL event store", "1,000", "25.0%", "2.00x")


def test_ours_against_each_peer_round_by_round() -> None:
    done = {
        "ours": [EngineRun("ours", 400, 1.0), EngineRun("ours", 300, 1.0)],
        "emmett": [EngineRun("emmett", 100, 1.0), EngineRun("emmett", 150, 1.0)],
    }
    assert per_round(done) == {"ours_vs_emmett": [4.0, 2.0]}


def test_without_node_or_npm_emmett_is_not_run(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(shutil, "which", lambda name: None)
    assert "node is not on the PATH" in str(append_emmett.prepare())
    monkeypatch.setattr(shutil, "which", lambda name: name if name == "node" else None)
    monkeypatch.setattr(append_emmett, "needs_install", lambda: True)
    assert "npm is not on the PATH" in str(append_emmett.prepare())
    monkeypatch.setattr(append_emmett, "needs_install", lambda: False)
    assert append_emmett.prepare() is None
