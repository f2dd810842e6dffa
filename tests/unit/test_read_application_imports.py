"""The read side's application knows the outside only by its ports: no driver, no metrics
library, no adapter, imported by any of its modules."""

import ast
from pathlib import Path

import services.read.application

FORBIDDEN = ("aiokafka", "bson", "pymongo", "prometheus_client")
APPLICATION = Path(services.read.application.__file__).parent


def imported(path: Path) -> set[str]:
    """Every module a file imports, relative ones resolved against services.read.application."""
    found: set[str] = set()
    for node in ast.walk(ast.parse(path.read_text())):
        if isinstance(node, ast.Import):
            found.update(alias.name for alias in node.names)
        elif isinstance(node, ast.ImportFrom):
            base = ["services", "read", "application"][: 3 - node.level + 1] if node.level else []
            found.add(".".join([*base, *(node.module or "").split(".")]).strip("."))
    return found


def test_no_application_module_imports_a_driver_metrics_or_an_adapter() -> None:
    for path in sorted(APPLICATION.glob("*.py")):
        for name in imported(path):
            assert name.split(".")[0] not in FORBIDDEN, f"{path.name} imports {name}"
            assert not name.startswith("services.read.adapters"), f"{path.name} imports {name}"
            assert name != "services.read.metrics", f"{path.name} imports {name}"
