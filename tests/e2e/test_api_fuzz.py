"""Both HTTP APIs against their own OpenAPI documents, with schemathesis.

Every phase (the documents' examples, the coverage of each schema's edges, random fuzzing, and
stateful sequences that follow the documents' links from a creation to its follow-ups), and the
checks that an answer is never a 5xx, has a documented status, content type and schema. A bounded
run is part of `make test`; `make fuzz` runs a longer one (FUZZ_EXAMPLES, FUZZ_SEED).
"""

import os
import subprocess
import sys
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

from deploy.local.stack import free_port
from tests.services import RunningService, run_service

SCHEMATHESIS = Path(sys.executable).parent / "schemathesis"
CHECKS = (
    "not_a_server_error",
    "response_schema_conformance",
    "status_code_conformance",
    "content_type_conformance",
)
EXAMPLES = int(os.environ.get("FUZZ_EXAMPLES", "50"))
SEED = int(os.environ.get("FUZZ_SEED", "20261130"))

pytestmark = pytest.mark.e2e


def command(url: str, token: str) -> list[str]:
    """The schemathesis run, as the note on a failure prints it to reproduce; every request
    carries `token` (staff: every scope), so the API's own answers are fuzzed, not just 401s."""
    return [
        str(SCHEMATHESIS),
        "run",
        f"{url}/openapi.json",
        f"--header=Authorization: Bearer {token}",
        "--phases=examples,coverage,fuzzing,stateful",
        f"--checks={','.join(CHECKS)}",
        f"--max-examples={EXAMPLES}",
        f"--seed={SEED}",
        "--workers=1",  # CPython 3.11's ast is not safe across the threads of several workers
        "--request-timeout=10",
        "--no-color",
    ]


def fuzz(url: str, tmp_path: Path, token: str) -> None:
    cmd = command(url, token)
    result = subprocess.run(
        cmd, cwd=tmp_path, capture_output=True, text=True, timeout=1800, check=False
    )
    summary = result.stdout[-6000:]
    assert result.returncode == 0, f"{' '.join(cmd)}\n{summary}\n{result.stderr[-2000:]}"
    assert "Tested:" in result.stdout, summary
    print(summary[summary.find("SUMMARY") :])  # the counts, shown with `pytest -s`


def test_the_write_api_holds_to_its_openapi_document(
    write_service: RunningService, tmp_path: Path, staff_token: str
) -> None:
    fuzz(write_service.url, tmp_path, staff_token)


@pytest.fixture(scope="module")
def fuzzed_read_service(
    write_service: RunningService, mongo: Any, tmp_path_factory: pytest.TempPathFactory
) -> Iterator[RunningService]:
    """The read service with a short cap on `min_version` waits: the orders fuzzing asks for
    mostly never appear, and each would otherwise hold its request for the whole wait."""
    port = free_port()
    env = {
        **write_service.env,
        "MONGODB_URL": mongo.url,
        "MONGODB_DATABASE": f"fuzz_{port}",
        "CONSUMER_GROUP_PREFIX": f"fuzz-{port}",
        "WRITE_SERVICE_URL": write_service.url,
        "READ_PORT": str(port),
        "MAX_WAIT_MS": "100",
    }
    log = tmp_path_factory.mktemp("fuzz") / "read-service.log"
    with run_service("read", env, port, log) as service:
        yield service


def test_the_read_api_holds_to_its_openapi_document(
    fuzzed_read_service: RunningService, tmp_path: Path, staff_token: str
) -> None:
    fuzz(fuzzed_read_service.url, tmp_path, staff_token)
