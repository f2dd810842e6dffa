"""Static checks of docker-compose.yml and deploy/: `python -m deploy.check` (run by `make lint`).

Nothing here needs Docker or a cluster. It parses every YAML/JSON file and Dockerfile and checks
the rules the rest of the project relies on: no dev-only dependency in an image, non-root
containers with health checks, probes and resources on every workload, no committed secrets,
infrastructure ports on the loopback interface only, the Keycloak realm the services expect
(deploy/check_realm.py), Secrets and NetworkPolicies in Kubernetes (deploy/check_k8s.py).
"""

from __future__ import annotations

import fnmatch
import glob
import json
import re
import sys
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import yaml

from deploy.check_common import dig, environment, load, rel
from deploy.check_k8s import check_k8s_doc, check_k8s_tree, check_kustomization
from deploy.check_realm import check_realm, check_realm_wiring

__all__ = ["ROOT", "check_compose", "check_dockerfile", "check_k8s_doc", "check_realm", "run"]

ROOT = Path(__file__).resolve().parent.parent
DATA_SUFFIXES = {".yml", ".yaml", ".json"}
SKIP_DIRS = {"__pycache__", "node_modules"}
# Dev and test dependencies (the embedded stand-ins; SecantusDB is GPL-2.0) must never be installed
# in an image, nor any dependency group.
FORBIDDEN = re.compile(
    r"secantus|calfkit|embedded[-_]postgres|--(?:all-groups|group|only-group|only-dev)\b", re.I
)
ROOT_USERS = {"", "root", "0"}
LOOPBACK = re.compile(r"^(127(\.\d{1,3}){3}|\[?::1\]?)$")
INTERPOLATION = re.compile(r"\$\{[^}]*\}")
SECRET_SETTING = re.compile(r"PASSWORD|SECRET|TOKEN|PRIVATE_KEY", re.I)


# --- Dockerfiles -------------------------------------------------------------------------------


@dataclass
class Stage:
    name: str
    base: str
    user: str | None = None
    healthcheck: bool | None = None
    expose: bool | None = None
    copied_from: set[str] = field(default_factory=set)


def instructions(text: str) -> list[tuple[str, str]]:
    """(INSTRUCTION, arguments) pairs with continuation lines joined and comments dropped."""
    result: list[tuple[str, str]] = []
    current = ""
    for raw in text.splitlines():
        line = raw.strip()
        if not line or line.startswith("#"):
            continue
        if line.endswith("\\"):
            current += line[:-1] + " "
            continue
        word, _, args = (current + line).partition(" ")
        result.append((word.upper(), args.strip()))
        current = ""
    return result


def copy_args(args: str) -> tuple[list[str], list[str]]:
    """Flags and the remaining words of a COPY instruction (shell or JSON form)."""
    words = args.split()
    flags = [w for w in words if w.startswith("--")]
    rest = " ".join(w for w in words if not w.startswith("--"))
    return flags, json.loads(rest) if rest.startswith("[") else rest.split()


def stages(text: str) -> list[Stage]:
    result: list[Stage] = []
    for word, args in instructions(text):
        if word == "FROM":
            parts = [p for p in args.split() if not p.startswith("--")]
            name = parts[2] if len(parts) >= 3 and parts[1].lower() == "as" else str(len(result))
            result.append(Stage(name=name, base=parts[0] if parts else ""))
        elif not result:
            continue
        elif word == "USER":
            result[-1].user = args.split(":")[0]
        elif word == "HEALTHCHECK":
            result[-1].healthcheck = args.upper() != "NONE"
        elif word == "EXPOSE":
            result[-1].expose = True
        elif word == "COPY":
            flags, _ = copy_args(args)
            result[-1].copied_from |= {f.split("=", 1)[1] for f in flags if f.startswith("--from=")}
    return result


def effective(stage: Stage, by_name: dict[str, Stage], attr: str) -> Any:
    """A stage's own setting, else the one inherited from the stage it is built FROM."""
    seen: set[str] = set()
    current: Stage | None = stage
    while current is not None and current.name not in seen:
        value = getattr(current, attr)
        if value is not None:
            return value
        seen.add(current.name)
        current = by_name.get(current.base)
    return None


def dockerignored(source: str, patterns: list[str]) -> bool:
    parts = Path(source.removeprefix("./")).parts
    candidates = ["/".join(parts[: i + 1]) for i in range(len(parts))]
    ignored = False
    for pattern in patterns:
        negate = pattern.startswith("!")
        pattern = pattern.lstrip("!").strip("/")
        if any(fnmatch.fnmatch(c, pattern) for c in candidates):
            ignored = not negate
    return ignored


def check_dockerfile(path: Path, context: Path) -> list[str]:
    """Problems of one Dockerfile built with `context` (the repository root) as build context."""
    where = rel(path, context)
    text = path.read_text(encoding="utf-8")
    all_stages = stages(text)
    if not all_stages:
        return [f"{where}: no FROM instruction"]
    problems: list[str] = []
    ignore_file = context / ".dockerignore"
    ignore = ignore_file.read_text(encoding="utf-8").splitlines() if ignore_file.exists() else []
    ignore = [p.strip() for p in ignore if p.strip() and not p.startswith("#")]
    for word, args in instructions(text):
        if FORBIDDEN.search(args):
            problems.append(f"{where}: {word} installs a dev/test dependency: {args[:80]}")
        uv_install = re.search(r"\buv (export|sync)\b", args)
        if word == "RUN" and uv_install and "--no-default-groups" not in args:
            problems.append(f"{where}: uv export/sync without --no-default-groups (adds 'dev')")
        if word == "COPY":
            flags, words = copy_args(args)
            if not any(f.startswith("--from=") for f in flags):
                problems += copy_problems(where, words[:-1], context, ignore)
    by_name = {s.name: s for s in all_stages}
    used = {s.base for s in all_stages} | {n for s in all_stages for n in s.copied_from}
    for stage in (s for s in all_stages if s.name not in used):
        label = f"{where} (stage {stage.name})"
        if (effective(stage, by_name, "user") or "") in ROOT_USERS:
            problems.append(f"{label}: runs as root (add a non-root USER)")
        if not effective(stage, by_name, "healthcheck"):
            problems.append(f"{label}: no HEALTHCHECK")
        if not effective(stage, by_name, "expose"):
            problems.append(f"{label}: no EXPOSE")
    return problems


def copy_problems(where: str, sources: list[str], context: Path, ignore: list[str]) -> list[str]:
    problems = []
    for source in (s for s in sources if not s.startswith("<<")):
        if not glob.glob(str(context / source)):
            problems.append(f"{where}: COPY source {source!r} does not exist")
        elif dockerignored(source, ignore):
            problems.append(f"{where}: COPY source {source!r} is excluded by .dockerignore")
    return problems


# --- docker-compose.yml ------------------------------------------------------------------------


def check_compose(data: Any, base: Path) -> list[str]:
    """Problems of a parsed compose file whose relative paths are resolved against `base`."""
    where = "docker-compose.yml"
    if not isinstance(data, dict):
        return [f"{where}: not a mapping"]
    problems = [f"{where}: obsolete top-level 'version' key"] if "version" in data else []
    services = data.get("services")
    if not isinstance(services, dict) or not services:
        return [*problems, f"{where}: no services"]
    for name, service in services.items():
        if not isinstance(service, dict):
            problems.append(f"{where}: service {name!r} is not a mapping")
            continue
        label = f"{where}: service {name!r}"
        problems += [f"{label}: {p}" for p in service_problems(service, services, base)]
        problems += [f"{label}: {p}" for p in exposure_problems(service)]
    return problems + check_realm_wiring(services, base)


def service_problems(service: dict[str, Any], services: dict[str, Any], base: Path) -> list[str]:
    problems = []
    if "image" not in service and "build" not in service:
        problems.append("has neither image nor build")
    if "build" not in service and not has_healthcheck(service):
        problems.append("infrastructure service without a healthcheck")
    problems += build_problems(service.get("build"), base)
    depends = service.get("depends_on") or {}
    for target in depends:
        other = services.get(target)
        condition = dig(depends, target, "condition") if isinstance(depends, dict) else None
        if not isinstance(other, dict):
            problems.append(f"depends on undefined service {target!r}")
        elif condition == "service_healthy" and not has_healthcheck(other):
            problems.append(f"waits for {target!r} to be healthy but it has no healthcheck")
        elif other.get("profiles") and not service.get("profiles"):
            problems.append(f"depends on {target!r}, which only runs in a profile")
    for volume in service.get("volumes") or []:
        source = bind_source(volume)
        if source and source.startswith(".") and not (base / source).exists():
            problems.append(f"bind mount source {source!r} does not exist")
    return problems


def exposure_problems(service: dict[str, Any]) -> list[str]:
    """Infrastructure published on loopback only, no secret written in, the services' auth set."""
    problems = []
    if "build" not in service:
        wide = [p for p in service.get("ports") or [] if not LOOPBACK.match(host_ip(p))]
        problems += [f"publishes {p!r} on every interface; bind it to 127.0.0.1" for p in wide]
    env = environment(service)
    written = [k for k, v in env.items() if SECRET_SETTING.search(k) and v and "${" not in v]
    problems += [
        f"{k} is written in; take it from the environment (${{{k}:?...}})" for k in written
    ]
    unchecked = env.get("AUTH_DISABLED", "").lower() not in ("true", "1", "yes")
    if (
        "build" in service
        and unchecked
        and not (env.get("AUTH_ISSUER") and env.get("AUTH_AUDIENCE"))
    ):
        problems.append("has neither AUTH_ISSUER and AUTH_AUDIENCE nor AUTH_DISABLED=true")
    return problems


def host_ip(port: Any) -> str:
    """The host address a `ports` entry publishes on; "" for every interface."""
    if isinstance(port, dict):
        return str(port.get("host_ip", ""))
    parts = INTERPOLATION.sub("X", str(port)).split("/")[0].rsplit(":", 2)
    return parts[0] if len(parts) == 3 else ""


def has_healthcheck(service: dict[str, Any]) -> bool:
    check = service.get("healthcheck")
    return bool(check) and not dig(check, "disable")


def build_problems(build: Any, base: Path) -> list[str]:
    if build is None:
        return []
    spec = {"context": build} if isinstance(build, str) else build
    dockerfile = base / spec.get("context", ".") / spec.get("dockerfile", "Dockerfile")
    if not dockerfile.is_file():
        return [f"Dockerfile {rel(dockerfile, base)} does not exist"]
    target = spec.get("target")
    if target and target not in {s.name for s in stages(dockerfile.read_text())}:
        return [f"build target {target!r} is not a stage of {rel(dockerfile, base)}"]
    return []


def bind_source(volume: Any) -> str | None:
    if isinstance(volume, dict):
        return str(volume.get("source", "")) if volume.get("type") == "bind" else None
    source = str(volume).split(":", 1)[0]
    return source if ":" in str(volume) and source.startswith((".", "/", "~")) else None


# --- Prometheus --------------------------------------------------------------------------------


def check_prometheus(data: Any, path: Path, root: Path) -> list[str]:
    problems = []
    if not dig(data, "scrape_configs"):
        problems.append(f"{rel(path, root)}: no scrape_configs")
    for pattern in dig(data, "rule_files") or []:
        if not glob.glob(str(path.parent / pattern)):
            problems.append(f"{rel(path, root)}: rule file {pattern!r} does not exist")
    return problems


def check_rules(data: Any, where: str) -> list[str]:
    rules = [r for g in dig(data, "groups") or [] for r in (dig(g, "rules") or [])]
    incomplete = [
        r for r in rules if not dig(r, "expr") or not (dig(r, "alert") or dig(r, "record"))
    ]
    return [f"{where}: rule without expr and alert/record: {r}" for r in incomplete]


def check_rule_tests(data: Any, path: Path, root: Path) -> list[str]:
    """A `promtool test rules` file: its rule files exist, and every alert they define has a
    case where it fires (promtool itself runs the cases, see tests/unit/test_alert_rules.py)."""
    where = rel(path, root)
    tests = dig(data, "tests") or []
    problems = [
        f"{where}: a test without input_series" for t in tests if not dig(t, "input_series")
    ]
    files = [(p, glob.glob(str(path.parent / p))) for p in dig(data, "rule_files") or []]
    problems += [f"{where}: rule file {p!r} does not exist" for p, found in files if not found]
    fired = {
        str(case.get("alertname"))
        for test in tests
        for case in dig(test, "alert_rule_test") or []
        if case.get("exp_alerts")
    }
    alerts = alerts_in([Path(f) for _, found in files for f in found])
    return problems + [f"{where}: no case where {a} fires" for a in sorted(alerts - fired)]


def alerts_in(rule_files: list[Path]) -> set[str]:
    """The names of the alerts defined in Prometheus rule files."""
    groups = [g for f in rule_files for d in load(f) for g in dig(d, "groups") or []]
    return {str(r["alert"]) for g in groups for r in dig(g, "rules") or [] if dig(r, "alert")}


# --- Driver ------------------------------------------------------------------------------------


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
