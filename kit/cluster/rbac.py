"""Least privilege for the operator on an existing cluster: exactly what `kit up`, `kit down`,
`kit status`, `kit logs` and `kit chat` do, as one table. `kit render` writes it as RBAC
objects for a cluster admin to grant (operator-rbac.yaml); `kit doctor` asks the API server
(SelfSubjectAccessReview) for every line of it and lists all that are missing at once.

Nothing here writes outside the kit's namespace: the cluster admin creates that namespace
(operator-rbac.yaml carries it, Pod Security labels included) and installs the NVIDIA device
plugin or GPU Operator; the operator may read and label its own namespace by name, and read
nodes. No kube-system access, no cluster-wide namespace write (which would let the operator
delete any namespace or relabel one out of Pod Security)."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

WRITE = ("get", "list", "watch", "create", "patch", "update", "delete")
READ = ("get", "list", "watch")
# The kit's own namespace, by name: read it and apply its labels (server-side apply patches
# an object that exists); never create or delete one (resourceNames cannot limit create).
OWN_NAMESPACE = ("get", "patch")
GROUP = "lima-kit-operators"      # the subject the bindings name; the admin may change it


@dataclass(frozen=True)
class Permission:
    scope: str                    # "namespace" (the kit's) or "cluster"
    group: str                    # API group ("" = core)
    resource: str
    verbs: tuple[str, ...]
    why: str
    own_name: bool = False        # only the object named like the kit's namespace


PERMISSIONS: tuple[Permission, ...] = (
    Permission("namespace", "batch", "jobs", WRITE, "fine-tune and model stage Jobs: apply, follow, delete"),
    Permission("namespace", "", "persistentvolumeclaims", WRITE, "the model's staging volume"),
    Permission("namespace", "snapshot.storage.k8s.io", "volumesnapshots", WRITE,
               "the staged model's snapshot the server restores"),
    Permission("namespace", "apps", "deployments", WRITE, "the inference server"),
    Permission("namespace", "", "services", WRITE, "the server's endpoint"),
    Permission("namespace", "", "configmaps", WRITE, "run specs and the proxy's config"),
    Permission("namespace", "", "secrets", WRITE, "the API keys of the endpoint"),
    Permission("namespace", "", "serviceaccounts", WRITE, "workload identities"),
    Permission("namespace", "policy", "poddisruptionbudgets", WRITE, "the server's disruption budget"),
    Permission("namespace", "autoscaling", "horizontalpodautoscalers", WRITE, "the server's autoscaler"),
    Permission("namespace", "networking.k8s.io", "networkpolicies", WRITE, "default deny and the allows"),
    Permission("namespace", "", "pods", READ, "follow runs and roll-outs"),
    Permission("namespace", "", "pods/log", ("get",), "training progress and `kit logs`"),
    Permission("namespace", "", "pods/portforward", ("get", "create"), "`kit chat` and the smoke test"),
    Permission("namespace", "", "events", READ, "why a pod does not start"),
    Permission("namespace", "events.k8s.io", "events", READ, "the same, newer API"),
    Permission("cluster", "", "namespaces", OWN_NAMESPACE,
               "the kit's namespace, made by the admin: its Pod Security labels", own_name=True),
    Permission("cluster", "", "nodes", ("get", "list"), "`kit status` and `kit doctor`: nodes and GPUs"),
)


def _rules(scope: str, namespace: str) -> list[dict[str, Any]]:
    rules = []
    for p in PERMISSIONS:
        if p.scope == scope:
            rule = {"apiGroups": [p.group], "resources": [p.resource], "verbs": list(p.verbs)}
            if p.own_name:
                rule["resourceNames"] = [namespace]
            rules.append(rule)
    return rules


def rbac_objects(namespace: str, name: str) -> list[dict[str, Any]]:
    """The namespace (the admin creates it with the grant), Role, ClusterRole and bindings."""
    from kit.render.platform import namespace as namespace_object

    labels = {"app.kubernetes.io/part-of": "lima-kit", "app.kubernetes.io/component": "operator-rbac"}
    role_name = f"lima-kit-operator-{name}"
    subject = [{"kind": "Group", "apiGroup": "rbac.authorization.k8s.io", "name": GROUP}]
    out: list[dict[str, Any]] = [namespace_object(namespace)]
    meta = {"name": role_name, "namespace": namespace, "labels": labels}
    out.append({"apiVersion": "rbac.authorization.k8s.io/v1", "kind": "Role", "metadata": meta,
                "rules": _rules("namespace", namespace)})
    out.append({"apiVersion": "rbac.authorization.k8s.io/v1", "kind": "RoleBinding",
                "metadata": meta, "subjects": subject,
                "roleRef": {"apiGroup": "rbac.authorization.k8s.io", "kind": "Role", "name": role_name}})
    cluster_meta = {"name": role_name, "labels": labels}
    out.append({"apiVersion": "rbac.authorization.k8s.io/v1", "kind": "ClusterRole",
                "metadata": cluster_meta, "rules": _rules("cluster", namespace)})
    out.append({"apiVersion": "rbac.authorization.k8s.io/v1", "kind": "ClusterRoleBinding",
                "metadata": cluster_meta, "subjects": subject,
                "roleRef": {"apiGroup": "rbac.authorization.k8s.io", "kind": "ClusterRole",
                            "name": role_name}})
    return out


def reviews(namespace: str) -> list[tuple[str, dict[str, Any]]]:
    """(what, resourceAttributes) for every verb on every line of the table."""
    out = []
    for p in PERMISSIONS:
        ns = namespace if p.scope == "namespace" else None
        resource, _, sub = p.resource.partition("/")
        for verb in p.verbs:
            attrs = {"verb": verb, "group": p.group, "resource": resource}
            if sub:
                attrs["subresource"] = sub
            if ns:
                attrs["namespace"] = ns
            if p.own_name:
                attrs["name"] = namespace
            group = f".{p.group}" if p.group else ""
            what = f"{verb} {p.resource}{group}" + (f"/{namespace}" if p.own_name else "")
            out.append((what + (f" in {ns}" if ns else ""), attrs))
    return out
