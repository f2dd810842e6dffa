"""The static checker over the Kubernetes manifests: probes, Secrets, NetworkPolicies."""

import shutil
from pathlib import Path
from typing import Any

import yaml

from deploy.check import ROOT, check_k8s_doc
from deploy.check_k8s import check_k8s_tree


def test_a_committed_secret_and_a_deployment_without_probes_are_reported() -> None:
    secret = {"apiVersion": "v1", "kind": "Secret", "metadata": {"name": "s"}, "data": {"k": "e"}}
    deployment = {
        "apiVersion": "apps/v1",
        "kind": "Deployment",
        "metadata": {"name": "d"},
        "spec": {"template": {"spec": {"containers": [{"name": "c", "image": "i"}]}}},
    }

    assert check_k8s_doc(secret, "x.yaml") == [
        "x.yaml (Secret s): Secret with values committed to the repository"
    ]
    problems = "\n".join(check_k8s_doc(deployment, "x.yaml"))
    for expected in ("resources", "readinessProbe", "livenessProbe"):
        assert f"missing {expected}" in problems


def manifests(root: Path) -> dict[Path, tuple[str, list[Any]]]:
    files = sorted((root / "deploy" / "k8s").glob("*.yaml"))
    return {f: (f.read_text(), list(yaml.safe_load_all(f.read_text()))) for f in files}


def test_a_malformed_network_policy_is_reported() -> None:
    policy: dict[str, Any] = {
        "apiVersion": "networking.k8s.io/v1",
        "kind": "NetworkPolicy",
        "metadata": {"name": "p"},
        "spec": {
            "podSelector": {"matchLabels": {"app": "db"}},
            "policyTypes": ["Ingress", "Sideways"],
            "ingress": [
                {"ports": [{"port": 5432}]},
                {"from": [{"pods": {}}], "ports": [{"port": 5432, "protocol": "HTTP"}]},
            ],
        },
    }

    assert check_k8s_doc(policy, "x.yaml") == [
        "x.yaml (NetworkPolicy p): unknown policyType 'Sideways'",
        "x.yaml (NetworkPolicy p): ingress[0] has no 'from': it admits every source and "
        "destination",
        "x.yaml (NetworkPolicy p): ingress[1].from[0] needs podSelector, namespaceSelector or "
        "ipBlock",
        "x.yaml (NetworkPolicy p): ingress[1]: port {'port': 5432, 'protocol': 'HTTP'} needs a "
        "protocol of ['SCTP', 'TCP', 'UDP']",
    ]
    del policy["spec"]["podSelector"]
    assert check_k8s_doc(policy, "x.yaml") == [
        "x.yaml (NetworkPolicy p): spec.podSelector is missing (use {} for every pod)"
    ]


def test_a_secret_read_but_never_created_and_a_policy_admitting_strangers_are_reported(
    tmp_path: Path,
) -> None:
    shutil.copytree(ROOT / "deploy" / "k8s", tmp_path / "deploy" / "k8s")
    k8s = tmp_path / "deploy" / "k8s"
    configmap = k8s / "configmap.yaml"
    configmap.write_text(configmap.read_text().replace("AUTH_CLIENT_SECRET=", "CLIENT_SECRET="))
    policies = k8s / "networkpolicy.yaml"
    policies.write_text(policies.read_text().replace("name: read-service", "name: debug-shell"))

    problems = check_k8s_tree(manifests(tmp_path), tmp_path)

    assert problems == [
        "deploy/k8s/read-service.yaml (Deployment read-service): reads key 'AUTH_CLIENT_SECRET' "
        "of Secret 'ordering-secrets', which nothing here creates",
        "deploy/k8s/rebuild-projections-job.yaml (Job rebuild-projections): reads key "
        "'AUTH_CLIENT_SECRET' of Secret 'ordering-secrets', which nothing here creates",
        "deploy/k8s/networkpolicy.yaml (NetworkPolicy kafka-clients): ingress[0] admits pods no "
        "workload here has: {'app.kubernetes.io/name': 'debug-shell'}",
        "deploy/k8s/networkpolicy.yaml (NetworkPolicy mongodb-clients): ingress[0] admits pods "
        "no workload here has: {'app.kubernetes.io/name': 'debug-shell'}",
    ]


def test_network_policies_missing_or_never_applied_are_reported(tmp_path: Path) -> None:
    shutil.copytree(ROOT / "deploy" / "k8s", tmp_path / "deploy" / "k8s")
    k8s = tmp_path / "deploy" / "k8s"
    kustomization = k8s / "kustomization.yaml"
    kustomization.write_text(kustomization.read_text().replace("  - networkpolicy.yaml\n", ""))

    unlisted = check_k8s_tree(manifests(tmp_path), tmp_path)
    (k8s / "networkpolicy.yaml").unlink()
    missing = check_k8s_tree(manifests(tmp_path), tmp_path)

    assert len(unlisted) == 3
    assert all("not among kustomization.yaml's resources" in p for p in unlisted)
    assert missing == ["deploy/k8s: no NetworkPolicy keeps other pods from the datastores"]


def test_a_secret_in_a_config_map_or_a_literal_env_value_is_reported() -> None:
    configmap = {
        "apiVersion": "v1",
        "kind": "ConfigMap",
        "metadata": {"name": "c"},
        "data": {"AUTH_CLIENT_SECRET": "s3cret", "DATABASE_URL": "postgresql://u:pw@db/x"},
    }
    container: dict[str, Any] = {"name": "c", "image": "i", "resources": {"requests": {}}}
    container["env"] = [{"name": "KAFKA_SASL_PASSWORD", "value": "s3cret"}]
    job = {
        "apiVersion": "batch/v1",
        "kind": "Job",
        "metadata": {"name": "j"},
        "spec": {"template": {"spec": {"containers": [container]}}},
    }

    assert check_k8s_doc(configmap, "c.yaml") == [
        "c.yaml (ConfigMap c): AUTH_CLIENT_SECRET holds a secret; it belongs in a Secret",
        "c.yaml (ConfigMap c): DATABASE_URL holds a secret; it belongs in a Secret",
    ]
    assert check_k8s_doc(job, "j.yaml") == [
        "j.yaml (Job j) container 'c': missing resources.requests",
        "j.yaml (Job j) container 'c': missing resources.limits",
        "j.yaml (Job j) container 'c': KAFKA_SASL_PASSWORD is a literal value, not a secretKeyRef",
    ]


def test_the_personal_data_keys_belong_in_a_secret_and_their_id_and_cache_do_not() -> None:
    data = {"PII_KEK": "c2VjcmV0", "PII_INDEX_KEY": "c2VjcmV0", "PII_KEK_ID": "local-1"}
    data["PII_KEY_CACHE_SECONDS"] = "300"
    configmap = {"apiVersion": "v1", "kind": "ConfigMap", "metadata": {"name": "c"}, "data": data}

    assert check_k8s_doc(configmap, "c.yaml") == [
        "c.yaml (ConfigMap c): PII_KEK holds a secret; it belongs in a Secret",
        "c.yaml (ConfigMap c): PII_INDEX_KEY holds a secret; it belongs in a Secret",
    ]
