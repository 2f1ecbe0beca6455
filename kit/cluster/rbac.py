"""Least privilege for the operator on an existing cluster: exactly what `kit up`, `kit down`,
`kit status`, `kit logs` and `kit chat` do, as one table. `kit render` writes it as RBAC
objects for a cluster admin to grant (operator-rbac.yaml); `kit doctor` asks the API server
(SelfSubjectAccessReview) for every line of it and lists all that are missing at once."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

WRITE = ("get", "list", "watch", "create", "patch", "update", "delete")
READ = ("get", "list", "watch")
GROUP = "lima-kit-operators"      # the subject the bindings name; the admin may change it


@dataclass(frozen=True)
class Permission:
    scope: str                    # "namespace" (the kit's), "kube-system" or "cluster"
    group: str                    # API group ("" = core)
    resource: str
    verbs: tuple[str, ...]
    why: str


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
    Permission("cluster", "", "namespaces", WRITE, "the kit's namespace (Pod Security restricted)"),
    Permission("cluster", "", "nodes", ("get", "list"), "`kit status`: nodes and GPUs"),
    Permission("kube-system", "apps", "daemonsets", WRITE, "the NVIDIA device plugin"),
)


def _rules(scope: str) -> list[dict[str, Any]]:
    return [{"apiGroups": [p.group], "resources": [p.resource], "verbs": list(p.verbs)}
            for p in PERMISSIONS if p.scope == scope]


def rbac_objects(namespace: str, name: str) -> list[dict[str, Any]]:
    """The namespace (so it can exist before the grant), Roles, ClusterRole and bindings."""
    from kit.render.platform import namespace as namespace_object

    labels = {"app.kubernetes.io/part-of": "lima-kit", "app.kubernetes.io/component": "operator-rbac"}
    role_name = f"lima-kit-operator-{name}"
    subject = [{"kind": "Group", "apiGroup": "rbac.authorization.k8s.io", "name": GROUP}]
    out: list[dict[str, Any]] = [namespace_object(namespace)]
    for scope, ns in (("namespace", namespace), ("kube-system", "kube-system")):
        meta = {"name": role_name, "namespace": ns, "labels": labels}
        out.append({"apiVersion": "rbac.authorization.k8s.io/v1", "kind": "Role", "metadata": meta,
                    "rules": _rules(scope)})
        out.append({"apiVersion": "rbac.authorization.k8s.io/v1", "kind": "RoleBinding",
                    "metadata": meta, "subjects": subject,
                    "roleRef": {"apiGroup": "rbac.authorization.k8s.io", "kind": "Role", "name": role_name}})
    cluster_meta = {"name": role_name, "labels": labels}
    out.append({"apiVersion": "rbac.authorization.k8s.io/v1", "kind": "ClusterRole",
                "metadata": cluster_meta, "rules": _rules("cluster")})
    out.append({"apiVersion": "rbac.authorization.k8s.io/v1", "kind": "ClusterRoleBinding",
                "metadata": cluster_meta, "subjects": subject,
                "roleRef": {"apiGroup": "rbac.authorization.k8s.io", "kind": "ClusterRole",
                            "name": role_name}})
    return out


def reviews(namespace: str) -> list[tuple[str, dict[str, Any]]]:
    """(what, resourceAttributes) for every verb on every line of the table."""
    out = []
    for p in PERMISSIONS:
        ns = {"namespace": namespace, "kube-system": "kube-system", "cluster": None}[p.scope]
        resource, _, sub = p.resource.partition("/")
        for verb in p.verbs:
            attrs = {"verb": verb, "group": p.group, "resource": resource}
            if sub:
                attrs["subresource"] = sub
            if ns:
                attrs["namespace"] = ns
            group = f".{p.group}" if p.group else ""
            out.append((f"{verb} {p.resource}{group}" + (f" in {ns}" if ns else ""), attrs))
    return out
