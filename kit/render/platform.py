"""Namespace-wide objects the charts rely on, as plain dicts.

A namespace that enforces the Pod Security Standard "restricted", a default-deny
NetworkPolicy for both directions, DNS for every pod, and HTTPS to the storage endpoints
(plus the cloud's identity endpoints) only for pods labelled STORAGE_LABEL: the fine-tune
Job pods and the server pods, whose init container stages the model. NetworkPolicy
applies per pod, not per container, so the server's engine and API-key proxy share that
storage egress; it is kept to the storage CIDRs and ports, and nothing else gets egress.
The API-key proxy reads its keys from a mounted Secret, so no pod needs the API server.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

from stacks.clouds import cloud_support

if TYPE_CHECKING:
    from kit.config import KitConfig
    from stacks.contract import ClusterOutputs

ANY_ADDRESS = "0.0.0.0/0"
# Set by charts/finetune and charts/tgi on their pod templates; allow-storage selects it.
STORAGE_LABEL = "lima-kit.io/storage-egress"
STORAGE_WHY = ("stage data and weights, upload runs, get cloud identity; only pods labelled "
               f"{STORAGE_LABEL}=true (fine-tune Job, server model staging)")


def _meta(name: str, namespace: str, why: str) -> dict[str, Any]:
    return {"name": name, "namespace": namespace,
            "labels": {"app.kubernetes.io/part-of": "lima-kit",
                       "app.kubernetes.io/managed-by": "lima-kit",
                       "app.kubernetes.io/component": "platform"},
            "annotations": {"lima-kit.io/why": why}}


def _policy(name: str, namespace: str, why: str, spec: dict[str, Any]) -> dict[str, Any]:
    return {"apiVersion": "networking.k8s.io/v1", "kind": "NetworkPolicy",
            "metadata": _meta(name, namespace, why), "spec": spec}


def namespace(name: str) -> dict[str, Any]:
    labels = {"kubernetes.io/metadata.name": name, "app.kubernetes.io/part-of": "lima-kit"}
    for mode in ("enforce", "audit", "warn"):
        labels[f"pod-security.kubernetes.io/{mode}"] = "restricted"
        labels[f"pod-security.kubernetes.io/{mode}-version"] = "latest"
    return {"apiVersion": "v1", "kind": "Namespace", "metadata": {"name": name, "labels": labels}}


def storage_cidrs(cfg: "KitConfig", cluster: "ClusterOutputs") -> tuple[list[str], str]:
    """Where storage pods may reach HTTPS (443), and why, for the policy's annotation.

    An existing cluster (target kubernetes): the kit cannot know where object storage
    lives, so exactly kubernetes.storage_cidrs; when empty, nothing unless network.egress
    opts in to any address. Clouds: the storage service's own ranges from the stack's outputs
    (the S3 prefix list), or the private endpoints' CIDRs the cloud knows before `kit up`. Where
    storage sits on public addresses that only the stack reads (CloudSupport.https_anywhere:
    the region's S3 prefix list), or nothing is known yet, no storage egress at all until the
    stack's outputs exist: never a wider range than the storage service publishes, and never a
    made-up one.
    """
    if not cloud_support(cfg.target).creates_cluster:
        if cfg.kubernetes.storage_cidrs:
            return list(cfg.kubernetes.storage_cidrs), f"{STORAGE_WHY}; HTTPS to kubernetes.storage_cidrs"
        if cfg.network.egress:
            return [ANY_ADDRESS], (f"{STORAGE_WHY}; HTTPS to any address: network.egress is true "
                                   "and kubernetes.storage_cidrs is empty")
        return [], ("no storage egress: kubernetes.storage_cidrs is empty and network.egress is "
                    "false; list the object storage endpoints' CIDRs in kubernetes.storage_cidrs "
                    "so the fine-tune Job and the server's model staging can reach them")
    if cluster.storage_cidrs:
        return list(cluster.storage_cidrs), (f"{STORAGE_WHY}; HTTPS to the storage service's own "
                                             "address ranges only")
    public = cloud_support(cfg.target).https_anywhere
    if public or not cluster.private_cidrs:
        known = f"{public}; " if public else ""
        return [], (f"no storage egress yet: {known}the storage service's address ranges are "
                    "read by the stack, so this policy allows them once `kit up` has run "
                    "(render again then)")
    return list(cluster.private_cidrs), STORAGE_WHY


def storage_egress(target: str, cidrs: list[str]) -> list[dict[str, Any]]:
    """HTTPS to the storage CIDRs, then the cloud's identity and API addresses; [] for none."""
    if not cidrs:
        return []
    rules = [{"to": [{"ipBlock": {"cidr": c}} for c in cidrs],
              "ports": [{"protocol": "TCP", "port": 443}]}]
    for extra in cloud_support(target).egress:
        rules.append({"to": [{"ipBlock": {"cidr": extra.cidr}}],
                      "ports": [{"protocol": "TCP", "port": extra.port}]})
    return rules


def platform_objects(cfg: "KitConfig", cluster: "ClusterOutputs") -> list[dict[str, Any]]:
    ns = cluster.namespace
    cidrs, why = storage_cidrs(cfg, cluster)
    return [
        namespace(ns),
        _policy("default-deny", ns, "nothing in or out unless another policy allows it", {
            "podSelector": {}, "policyTypes": ["Ingress", "Egress"]}),
        _policy("allow-dns", ns, "name resolution through the cluster DNS only", {
            "podSelector": {}, "policyTypes": ["Egress"],
            "egress": [{
                "to": [{"namespaceSelector": {"matchLabels": {"kubernetes.io/metadata.name": "kube-system"}},
                        "podSelector": {"matchLabels": {"k8s-app": "kube-dns"}}}],
                "ports": [{"protocol": "UDP", "port": 53}, {"protocol": "TCP", "port": 53}],
            }]}),
        _policy("allow-storage", ns, why, {
            "podSelector": {"matchLabels": {STORAGE_LABEL: "true"}}, "policyTypes": ["Egress"],
            "egress": storage_egress(cfg.target, cidrs)}),
    ]
