"""The event contracts stand alone: an outside Kafka consumer imports them without the web
framework or the services' plumbing."""

import subprocess
import sys

from tests.services import ROOT

CONTRACTS = ("events", "money", "envelope", "serialization", "cloudevents", "asyncapi")


def test_the_contracts_import_no_web_framework_and_no_plumbing() -> None:
    modules = ", ".join(f"shared.contracts.{m}" for m in CONTRACTS)
    probe = (
        f"import sys, {modules}\n"
        "print(sorted({m.split('.')[0] for m in sys.modules} & {'fastapi', 'starlette', 'uvicorn',"
        " 'httpx', 'jwt', 'aiokafka', 'pymongo', 'asyncpg'}),"
        " sorted(m for m in sys.modules if m.startswith('shared.plumbing')))"
    )
    done = subprocess.run(
        [sys.executable, "-c", probe], cwd=ROOT, capture_output=True, text=True, timeout=60
    )
    assert done.returncode == 0, done.stderr
    assert done.stdout.strip() == "[] []", done.stdout
