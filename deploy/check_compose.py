"""Static checks of docker-compose.yml: images or builds that exist, health checks where services
wait for them, infrastructure published on loopback only, no secret written in, the services'
authentication set."""

from __future__ import annotations

import re
from pathlib import Path
from typing import Any

from deploy.check_common import dig, environment, rel
from deploy.check_docker import stages
from deploy.check_realm import check_realm_wiring

LOOPBACK = re.compile(r"^(127(\.\d{1,3}){3}|\[?::1\]?)$")
INTERPOLATION = re.compile(r"\$\{[^}]*\}")
SECRET_SETTING = re.compile(r"PASSWORD|SECRET|TOKEN|PRIVATE_KEY|(^|_)KEK$|INDEX_KEY$", re.I)
# Keys that seal data: never a default (data sealed under a key in the repository is not sealed).
KEY_SETTING = re.compile(r"(^|_)(KEK|INDEX_KEY)$", re.I)
REQUIRED = re.compile(r"^\$\{(\w+):\?[^}]*\}$")


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
    defaulted = [k for k, v in env.items() if KEY_SETTING.search(k) and not REQUIRED.match(v)]
    problems += [
        f"{k} must come from the environment, required and without a default (${{{k}:?...}})"
        for k in defaulted
        if k not in written
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
