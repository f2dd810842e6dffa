"""Static checks of the Kubernetes manifests in deploy/k8s: each object alone, then all together
(every Secret a workload reads is created somewhere, the datastores' NetworkPolicies admit only
the workloads defined here)."""

from __future__ import annotations

import re
from pathlib import Path
from typing import Any

from deploy.check_common import dig, rel

WORKLOADS = {"Deployment", "StatefulSet", "DaemonSet"}
# Names of settings that hold a secret: they come from a Secret, never from a value or ConfigMap.
# The personal-data keys too (PII_KEK, PII_INDEX_KEY), not what merely names one (PII_KEK_ID).
SECRET_NAME = re.compile(
    r"PASSWORD|SECRET|TOKEN|PRIVATE_KEY|CREDENTIALS|(^|_)KEK$|INDEX_KEY$", re.I
)
CREDENTIALS_IN_URL = re.compile(r"://[^/@\s:]+:[^/@\s]+@")
PROTOCOLS = {"TCP", "UDP", "SCTP"}
OPERATORS = {"In", "NotIn", "Exists", "DoesNotExist"}
PEER_KEYS = {"podSelector", "namespaceSelector", "ipBlock"}


def pod_spec(doc: dict[str, Any]) -> Any:
    kind = doc.get("kind")
    if kind == "CronJob":
        return dig(doc, "spec", "jobTemplate", "spec", "template", "spec")
    if kind in WORKLOADS or kind == "Job":
        return dig(doc, "spec", "template", "spec")
    return dig(doc, "spec") if kind == "Pod" else None


def pod_labels(doc: dict[str, Any]) -> dict[str, str]:
    if doc.get("kind") == "CronJob":
        return dig(doc, "spec", "jobTemplate", "spec", "template", "metadata", "labels") or {}
    return dig(doc, "spec", "template", "metadata", "labels") or {}


def containers(doc: dict[str, Any]) -> list[dict[str, Any]]:
    pod = pod_spec(doc)
    found = [*(dig(pod, "initContainers") or []), *(dig(pod, "containers") or [])]
    return [c for c in found if isinstance(c, dict)]


def check_k8s_doc(doc: Any, where: str) -> list[str]:
    """Problems of one Kubernetes object."""
    if not isinstance(doc, dict):
        return [f"{where}: document is not a mapping"]
    problems = [f"{where}: missing {k}" for k in ("apiVersion", "kind") if not doc.get(k)]
    where = f"{where} ({doc.get('kind')} {dig(doc, 'metadata', 'name')})"
    if not dig(doc, "metadata", "name"):
        problems.append(f"{where}: missing metadata.name")
    if doc.get("kind") == "Secret" and (doc.get("data") or doc.get("stringData")):
        problems.append(f"{where}: Secret with values committed to the repository")
    if doc.get("kind") == "ConfigMap":
        problems += configmap_problems(doc, where)
    if doc.get("kind") == "NetworkPolicy":
        problems += [f"{where}: {p}" for p in network_policy_problems(doc)]
    if pod_spec(doc) is None:
        return problems
    return problems + workload_problems(doc, where)


def workload_problems(doc: dict[str, Any], where: str) -> list[str]:
    problems = [] if dig(pod_spec(doc), "containers") else [f"{where}: no containers"]
    for container in containers(doc):
        label = f"{where} container {container.get('name')!r}"
        wanted = ["image", "resources"]
        if doc.get("kind") in WORKLOADS and container in (dig(pod_spec(doc), "containers") or []):
            wanted += ["readinessProbe", "livenessProbe"]
        problems += [f"{label}: missing {key}" for key in wanted if not container.get(key)]
        for key in ("requests", "limits"):
            if container.get("resources") and not dig(container, "resources", key):
                problems.append(f"{label}: missing resources.{key}")
        literal = [e.get("name") for e in container.get("env") or [] if is_literal_secret(e)]
        problems += [f"{label}: {name} is a literal value, not a secretKeyRef" for name in literal]
    return problems


def is_literal_secret(env: Any) -> bool:
    if not isinstance(env, dict) or "value" not in env:
        return False
    name, value = str(env.get("name", "")), str(env.get("value") or "")
    return bool(SECRET_NAME.search(name) and value) or bool(CREDENTIALS_IN_URL.search(value))


def configmap_problems(doc: dict[str, Any], where: str) -> list[str]:
    data = doc.get("data") or {}
    wrong = [k for k, v in data.items() if SECRET_NAME.search(str(k)) and str(v or "")]
    wrong += [k for k, v in data.items() if CREDENTIALS_IN_URL.search(str(v or ""))]
    return [f"{where}: {key} holds a secret; it belongs in a Secret" for key in wrong]


def check_kustomization(data: Any, path: Path, root: Path) -> list[str]:
    entries = dig(data, "resources") or []
    missing = [e for e in map(str, entries) if "://" not in e and not (path.parent / e).exists()]
    return [f"{rel(path, root)}: lists missing resource {e!r}" for e in missing]


# --- NetworkPolicy ------------------------------------------------------------------------------


def network_policy_problems(doc: dict[str, Any]) -> list[str]:
    """A NetworkPolicy as the API server would take it, and that admits no one by accident."""
    spec = doc.get("spec")
    if doc.get("apiVersion") != "networking.k8s.io/v1":
        return [f"apiVersion {doc.get('apiVersion')!r} is not networking.k8s.io/v1"]
    if not isinstance(spec, dict) or not isinstance(spec.get("podSelector"), dict):
        return ["spec.podSelector is missing (use {} for every pod)"]
    problems = selector_problems(spec["podSelector"], "spec.podSelector")
    types = spec.get("policyTypes") or []
    problems += [f"unknown policyType {t!r}" for t in types if t not in ("Ingress", "Egress")]
    for direction, peers in (("ingress", "from"), ("egress", "to")):
        rules = spec.get(direction) or []
        if rules and direction.capitalize() not in types:
            problems.append(f"has {direction} rules but policyTypes lacks {direction.capitalize()}")
        for n, rule in enumerate(rules if isinstance(rules, list) else [rules]):
            problems += rule_problems(rule, f"{direction}[{n}]", peers)
    return problems


def rule_problems(rule: Any, where: str, peers: str) -> list[str]:
    if not isinstance(rule, dict):
        return [f"{where} is not a mapping"]
    if not rule.get(peers):
        return [f"{where} has no '{peers}': it admits every source and destination"]
    problems = []
    for n, peer in enumerate(rule[peers]):
        label = f"{where}.{peers}[{n}]"
        if not isinstance(peer, dict) or not set(peer) & PEER_KEYS or set(peer) - PEER_KEYS:
            problems.append(f"{label} needs podSelector, namespaceSelector or ipBlock")
            continue
        for key in ("podSelector", "namespaceSelector"):
            problems += selector_problems(peer.get(key, {}), f"{label}.{key}")
        if "ipBlock" in peer and not dig(peer, "ipBlock", "cidr"):
            problems.append(f"{label}.ipBlock has no cidr")
    for port in rule.get("ports") or []:
        if not isinstance(port, dict) or port.get("protocol", "TCP") not in PROTOCOLS:
            problems.append(f"{where}: port {port!r} needs a protocol of {sorted(PROTOCOLS)}")
    return problems


def selector_problems(selector: Any, where: str) -> list[str]:
    if not isinstance(selector, dict) or set(selector) - {"matchLabels", "matchExpressions"}:
        return [f"{where} is not a label selector"]
    labels = selector.get("matchLabels") or {}
    problems = [] if isinstance(labels, dict) else [f"{where}.matchLabels is not a mapping"]
    for expression in selector.get("matchExpressions") or []:
        if dig(expression, "operator") not in OPERATORS or not dig(expression, "key"):
            problems.append(f"{where}: matchExpressions entry {expression!r} is malformed")
    return problems


# --- All manifests together ---------------------------------------------------------------------


def check_k8s_tree(files: dict[Path, tuple[str, list[Any]]], root: Path) -> list[str]:
    """Rules across deploy/k8s; `files` maps each manifest to its text and parsed documents."""
    docs = [(path, doc) for path, (_, found) in files.items() for doc in found]
    docs = [(path, doc) for path, doc in docs if isinstance(doc, dict)]
    texts = "\n".join(text for text, _ in files.values())
    problems = secret_reference_problems(docs, texts, root)
    policies = [(path, doc) for path, doc in docs if doc.get("kind") == "NetworkPolicy"]
    if not policies:
        problems.append("deploy/k8s: no NetworkPolicy keeps other pods from the datastores")
    workloads = [pod_labels(doc) for _, doc in docs if pod_spec(doc) is not None]
    listed = kustomized(docs)
    for path, policy in policies:
        where = f"{rel(path, root)} (NetworkPolicy {dig(policy, 'metadata', 'name')})"
        if path.name not in listed:
            problems.append(f"{where}: not among kustomization.yaml's resources, never applied")
        problems += [f"{where}: {p}" for p in peer_problems(policy, workloads)]
    return problems


def kustomized(docs: list[tuple[Path, dict[str, Any]]]) -> set[str]:
    kustomizations = [doc for _, doc in docs if doc.get("kind") == "Kustomization"]
    return {Path(str(e)).name for k in kustomizations for e in dig(k, "resources") or []}


def secret_reference_problems(
    docs: list[tuple[Path, dict[str, Any]]], texts: str, root: Path
) -> list[str]:
    """Every Secret key a container reads exists in a Secret manifest or in a documented
    `kubectl create secret generic NAME --from-literal=KEY=...` command."""
    created = created_secret_keys(docs, texts)
    problems = []
    for path, doc in docs:
        for container in containers(doc):
            for name, key in secret_references(container):
                missing = key not in created.get(name, set()) if key else name not in created
                if missing:
                    what = f"key {key!r} of Secret {name!r}" if key else f"Secret {name!r}"
                    label = f"{rel(path, root)} ({doc.get('kind')} {dig(doc, 'metadata', 'name')})"
                    problems.append(f"{label}: reads {what}, which nothing here creates")
    return problems


def secret_references(container: dict[str, Any]) -> list[tuple[str, str]]:
    """(Secret, key) pairs a container reads; key "" for a whole Secret (envFrom)."""
    refs = [dig(e, "valueFrom", "secretKeyRef") for e in container.get("env") or []]
    found = [(str(r.get("name")), str(r.get("key"))) for r in refs if isinstance(r, dict)]
    whole = [dig(e, "secretRef", "name") for e in container.get("envFrom") or []]
    return found + [(str(name), "") for name in whole if name]


def created_secret_keys(docs: list[tuple[Path, dict[str, Any]]], texts: str) -> dict[str, set[str]]:
    created: dict[str, set[str]] = {}
    for _, doc in docs:
        if doc.get("kind") == "Secret":
            keys = {*(doc.get("data") or {}), *(doc.get("stringData") or {})}
            created.setdefault(str(dig(doc, "metadata", "name")), set()).update(keys)
    commands = re.findall(r"create secret generic ([\w.-]+)((?:[^\n]*\\\n)*[^\n]*)", texts)
    for name, arguments in commands:
        given = re.findall(r"--from-(?:literal|file)=([\w.-]+)=", arguments)
        created.setdefault(name, set()).update(given)
    return created


def peer_problems(policy: dict[str, Any], workloads: list[dict[str, str]]) -> list[str]:
    """Each pod a rule admits is a workload defined here, or one of the policy's own pods."""
    own = dig(policy, "spec", "podSelector", "matchLabels") or {}
    problems = []
    for n, rule in enumerate(dig(policy, "spec", "ingress") or []):
        for peer in dig(rule, "from") or []:
            labels = dig(peer, "podSelector", "matchLabels") or {}
            if not isinstance(peer, dict) or "podSelector" not in peer or not labels:
                problems.append(f"ingress[{n}] admits more than chosen pods: {peer!r}")
            elif labels != own and not any(labels.items() <= w.items() for w in workloads):
                problems.append(f"ingress[{n}] admits pods no workload here has: {labels}")
    return problems
