"""Static checks of docker-compose.yml and deploy/: `python -m deploy.check` (run by `make lint`).

Nothing here needs Docker or a cluster. It parses every YAML/JSON file and Dockerfile and checks
the rules the rest of the project relies on: no dev-only dependency in an image, non-root
containers with health checks, probes and resources on every workload, no committed secrets,
infrastructure ports on the loopback interface only, the Keycloak realm the services expect
(deploy/check_realm.py), Secrets and NetworkPolicies in Kubernetes (deploy/check_k8s.py). Each
kind of file has its own module (check_docker, check_compose, check_prometheus, check_k8s,
check_realm); this one finds the files and hands each to its checks.
"""

from __future__ import annotations

import sys
from pathlib import Path
from typing import Any

import yaml

from deploy.check_common import dig, load, rel
from deploy.check_compose import check_compose
from deploy.check_docker import check_dockerfile
from deploy.check_k8s import check_k8s_doc, check_k8s_tree, check_kustomization
from deploy.check_prometheus import check_prometheus, check_rule_tests, check_rules
from deploy.check_realm import check_realm

__all__ = [
    "ROOT",
    "check_compose",
    "check_dockerfile",
    "check_k8s_doc",
    "check_realm",
    "check_rule_tests",
    "run",
]

ROOT = Path(__file__).resolve().parent.parent
DATA_SUFFIXES = {".yml", ".yaml", ".json"}
SKIP_DIRS = {"__pycache__", "node_modules"}


def check_data_file(path: Path, docs: list[Any], root: Path) -> list[str]:
    """The checks that apply to a parsed file, chosen by where it lives."""
    where = rel(path, root)
    parts = path.relative_to(root).parts
    if parts == ("docker-compose.yml",):
        return check_compose(docs[0] if docs else None, root)
    if parts[:2] == ("deploy", "keycloak") and path.suffix == ".json":
        return check_realm(docs[0] if docs else None, where)
    if parts[:2] == ("deploy", "k8s"):
        if docs and dig(docs[0], "kind") == "Kustomization":
            return check_kustomization(docs[0], path, root)
        return [p for doc in docs for p in check_k8s_doc(doc, where)]
    if parts[:2] == ("deploy", "prometheus") and docs and isinstance(docs[0], dict):
        if "groups" in docs[0]:
            return check_rules(docs[0], where)
        if "tests" in docs[0]:
            return check_rule_tests(docs[0], path, root)
        return check_prometheus(docs[0], path, root)
    return []


def data_files(root: Path) -> list[Path]:
    files = [root / "docker-compose.yml"]
    for path in sorted((root / "deploy").rglob("*")):
        inner = path.relative_to(root).parts
        hidden = any(p.startswith(".") or p in SKIP_DIRS for p in inner)
        if path.suffix in DATA_SUFFIXES and path.is_file() and not hidden:
            files.append(path)
    return files


def dockerfiles(root: Path) -> list[Path]:
    folder = root / "deploy" / "docker"
    return sorted({*folder.glob("Dockerfile"), *folder.glob("*.Dockerfile")})


def run(root: Path) -> tuple[int, list[str]]:
    """(files checked, problems) for the repository at `root`."""
    problems: list[str] = []
    files = data_files(root)
    manifests: dict[Path, tuple[str, list[Any]]] = {}
    for path in files:
        try:
            docs = load(path)
        except (OSError, ValueError, yaml.YAMLError) as exc:
            problems.append(f"{rel(path, root)}: cannot be parsed: {' '.join(str(exc).split())}")
            continue
        problems += check_data_file(path, docs, root)
        if path.relative_to(root).parts[:2] == ("deploy", "k8s"):
            manifests[path] = (path.read_text(encoding="utf-8"), docs)
    if manifests:
        problems += check_k8s_tree(manifests, root)
    images = dockerfiles(root)
    if not images:
        problems.append("deploy/docker: no Dockerfile")
    for path in images:
        problems += check_dockerfile(path, root)
    return len(files) + len(images), problems


def main() -> int:
    count, problems = run(ROOT)
    for problem in problems:
        print(problem)
    if problems:
        return 1
    print(f"deploy: {count} files checked, all valid")
    return 0


if __name__ == "__main__":
    sys.exit(main())
