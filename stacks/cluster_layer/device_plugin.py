"""The NVIDIA device plugin: advertises nvidia.com/gpu on GPU nodes so pods can request GPUs.

It runs only on the GPU pool (its label and taint from stacks.contract) in kube-system: it
needs the kubelet's device-plugin socket folder, the one hostPath in the kit, which is why
it does not live in the kit's restricted namespace.
"""

from __future__ import annotations

from typing import Any

from stacks.cluster_layer.pinned import pinned
from stacks.contract import ClusterOutputs

NAME = "nvidia-device-plugin"
IMAGE = "device-plugin"   # its name in kit.images.IMAGES and the images lock


def objects(cfg: Any, cluster: ClusterOutputs, locked: dict[str, str], *,
            review: bool = False) -> list[dict]:
    """nvcr.io has no pull-through cache: on a cloud the image is the copy `kit up` makes in
    the stack's registry (kit.images.copy) before anything can schedule onto a GPU node."""
    labels = {"app.kubernetes.io/name": NAME, "app.kubernetes.io/part-of": "lima-kit"}
    ref, annotations = pinned(cfg, IMAGE, locked, cluster.registry_prefix, review=review)
    meta: dict[str, Any] = {"name": NAME, "namespace": "kube-system", "labels": labels}
    if annotations:
        meta["annotations"] = annotations
    pod = {
        "priorityClassName": "system-node-critical",
        "nodeSelector": dict(cluster.gpu_node_selector),
        "tolerations": [dict(t) for t in cluster.gpu_tolerations],
        "automountServiceAccountToken": False,
        "securityContext": {"seccompProfile": {"type": "RuntimeDefault"}},
        "containers": [{
            "name": "device-plugin", "image": ref,
            "args": ["--fail-on-init-error=true"],
            "resources": {"requests": {"cpu": "50m", "memory": "64Mi"},
                          "limits": {"memory": "256Mi"}},
            "securityContext": {"allowPrivilegeEscalation": False, "readOnlyRootFilesystem": True,
                                "capabilities": {"drop": ["ALL"]}},
            "volumeMounts": [{"name": "device-plugins", "mountPath": "/var/lib/kubelet/device-plugins"}],
        }],
        "volumes": [{"name": "device-plugins",
                     "hostPath": {"path": "/var/lib/kubelet/device-plugins", "type": "Directory"}}],
    }
    return [{
        "apiVersion": "apps/v1", "kind": "DaemonSet",
        "metadata": meta,
        "spec": {"selector": {"matchLabels": {"app.kubernetes.io/name": NAME}},
                 "updateStrategy": {"type": "RollingUpdate"},
                 "template": {"metadata": {"labels": labels}, "spec": pod}},
    }]
