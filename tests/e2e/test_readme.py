"""The README's curl sequence, run as printed against a live write service."""

import os
import re
import subprocess
from pathlib import Path

from deploy.local.stack import LocalIssuer
from tests.services import ROOT, RunningService

README = Path(__file__).resolve().parents[2] / "README.md"


def curl_sequence() -> str:
    text = README.read_text()
    match = re.search(r"<!-- curl-sequence -->\n```bash\n(.*?)```", text, re.S)
    assert match, "README has no curl sequence"
    return match.group(1)


def test_readme_curl_sequence_works_as_printed(
    write_service: RunningService, issuer: LocalIssuer
) -> None:
    # `make -s token` in the block asks this issuer, as it asks make run's through stack.env
    env = {
        **os.environ,
        "WRITE_URL": write_service.url,
        "AUTH_ISSUER": issuer.url,
        "TOKEN_CLIENT_SECRET": issuer.client_secret("dev"),
    }
    result = subprocess.run(
        ["bash", "-euo", "pipefail", "-c", curl_sequence()],
        cwd=ROOT,
        env=env,
        capture_output=True,
        text=True,
        timeout=120,
    )
    assert result.returncode == 0, result.stderr + result.stdout
    out = result.stdout
    assert re.search(r"HTTP/1.1 409", out), out
    assert "content-type: application/problem+json" in out.lower()
    assert "cannot cancel an order that is shipped" in out
    assert '"event_type":"OrderShipped"' in out
