"""Namespace-wide objects the charts rely on, as plain dicts.

A namespace that enforces the Pod Security Standard "restricted", a default-deny
NetworkPolicy for both directions, and the explicit allows every kit pod needs: DNS, and
HTTPS to the storage endpoints (plus the cloud's identity endpoints). The API-key proxy
reads its keys from a mounted Secret, so no pod needs the Kubernetes API server.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

from kit.render.clouds import cloud_for

if TYPE_CHECKING:
    from kit.config import KitConfig
    from stacks.contract import ClusterOutputs

ANY_ADDRESS = "0.0.0.0/0"


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


def storage_egress(cfg: "KitConfig", cluster: "ClusterOutputs") -> list[dict[str, Any]]:
    """HTTPS to the private endpoints' CIDRs, and the cloud's identity and API addresses.

    Where the cloud's storage or identity sits on public addresses (see Cloud.https_anywhere),
    or no private CIDRs are known (an existing cluster, or defaults before `kit up`), HTTPS
    goes to any address, and the network's own egress controls (no NAT, no internet
    gateway) decide what is reachable.
    """
    anywhere = cloud_for(cfg.target).https_anywhere or not cluster.private_cidrs
    cidrs = [ANY_ADDRESS] if anywhere else list(cluster.private_cidrs)
    rules = [{"to": [{"ipBlock": {"cidr": c}} for c in cidrs],
              "ports": [{"protocol": "TCP", "port": 443}]}]
    for extra in cloud_for(cfg.target).egress:
        rules.append({"to": [{"ipBlock": {"cidr": extra.cidr}}],
                      "ports": [{"protocol": "TCP", "port": extra.port}]})
    return rules


def storage_why(cfg: "KitConfig", cluster: "ClusterOutputs") -> str:
    why = "stage data and weights, upload runs, get cloud identity"
    public = cloud_for(cfg.target).https_anywhere
    if public:
        return f"{why}; HTTPS to any address: {public}"
    if not cluster.private_cidrs:
        return f"{why}; HTTPS to any address: the storage endpoints' addresses are not known"
    return why


def platform_objects(cfg: "KitConfig", cluster: "ClusterOutputs") -> list[dict[str, Any]]:
    ns = cluster.namespace
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
        _policy("allow-storage", ns, storage_why(cfg, cluster), {
            "podSelector": {}, "policyTypes": ["Egress"],
            "egress": storage_egress(cfg, cluster)}),
    ]
