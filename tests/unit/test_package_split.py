"""The event contracts stand alone: an outside Kafka consumer imports them without the web
framework or the services' plumbing."""

import ast
import subprocess
import sys
from pathlib import Path

import pytest

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


INNER = ("entrypoints", "application")
FORBIDDEN_IN_APPLICATION = ("aiokafka", "pymongo", "bson", "asyncpg", "motor", "httpx", "fastapi")


def imported_modules(path: Path) -> set[str]:
    """Absolute names of what a module imports (relative imports resolved from its package)."""
    package = list(path.relative_to(ROOT).with_suffix("").parts[:-1])
    found: set[str] = set()
    for node in ast.walk(ast.parse(path.read_text())):
        if isinstance(node, ast.Import):
            found.update(alias.name for alias in node.names)
        elif isinstance(node, ast.ImportFrom):
            base = package[: len(package) - node.level + 1] if node.level else []
            found.add(".".join([*base, *(node.module or "").split(".")]).strip("."))
    return found


@pytest.mark.parametrize("service", ["read", "write"])
def test_the_application_layers_know_no_driver_and_no_adapter(service: str) -> None:
    application = ROOT / "services" / service / "application"
    offending = {
        f"{path.name}: {name}"
        for path in sorted(application.glob("*.py"))
        for name in imported_modules(path)
        if name.split(".")[0] in FORBIDDEN_IN_APPLICATION
        or name.startswith(f"services.{service}.adapters")
        or name.startswith(f"services.{service}.entrypoints")
    }
    assert offending == set()


DRIVERS_AND_METRICS = ("asyncpg", "aiokafka", "pymongo", "bson", "prometheus_client")
INNER_LAYERS = [
    *(f"services/{service}/{layer}" for service in ("read", "write") for layer in INNER),
    "services/read/cli.py",
]


def modules_of(place: str) -> list[Path]:
    """The Python modules of a package folder (and its subpackages), or the one module."""
    path = ROOT / place
    return sorted(path.rglob("*.py")) if path.is_dir() else [path]


@pytest.mark.parametrize("place", INNER_LAYERS)
def test_the_inner_layers_import_no_driver_and_no_metrics_library(place: str) -> None:
    """Drivers' errors are translated and metrics recorded in the adapters: the entrypoints, the
    operator commands and the application know neither a driver nor prometheus_client, and the
    application reports to ports rather than writing its service's metrics module."""
    service = place.split("/")[1]
    offending = {
        f"{path.relative_to(ROOT)}: {name}"
        for path in modules_of(place)
        for name in imported_modules(path)
        if name.split(".")[0] in DRIVERS_AND_METRICS
        or ("/application" in place and name == f"services.{service}.metrics")
    }
    assert offending == set()


def test_the_layer_check_sees_the_adapters_imports() -> None:
    """The check above reads real imports: an adapter's driver and its relative imports."""
    found = imported_modules(ROOT / "services" / "read" / "adapters" / "documents.py")
    assert "pymongo" in {name.split(".")[0] for name in found}
    assert "services.read.application.ports" in found
