"""The NVIDIA device plugin: advertises nvidia.com/gpu on GPU nodes so pods can request GPUs.

It runs only on the GPU pool (its label and taint from stacks.contract) in kube-system: it
needs the kubelet's device-plugin socket folder, the one hostPath in the kit, which is why
it does not live in the kit's restricted namespace.
"""

from __future__ import annotations

from stacks.contract import ClusterOutputs

VERSION = "v0.17.4"
UPSTREAM = f"nvcr.io/nvidia/k8s-device-plugin:{VERSION}"
NAME = "nvidia-device-plugin"


def image(cluster: ClusterOutputs) -> str:
    """nvcr.io has no ECR pull-through upstream: on a cloud, `kit images push` mirrors it."""
    if cluster.registry_prefix:
        return f"{cluster.registry_prefix}/{NAME}:{VERSION}"
    return UPSTREAM


def objects(cluster: ClusterOutputs) -> list[dict]:
    labels = {"app.kubernetes.io/name": NAME, "app.kubernetes.io/part-of": "lima-kit"}
    pod = {
        "priorityClassName": "system-node-critical",
        "nodeSelector": dict(cluster.gpu_node_selector),
        "tolerations": [dict(t) for t in cluster.gpu_tolerations],
        "automountServiceAccountToken": False,
        "securityContext": {"seccompProfile": {"type": "RuntimeDefault"}},
        "containers": [{
            "name": "device-plugin", "image": image(cluster),
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
        "metadata": {"name": NAME, "namespace": "kube-system", "labels": labels},
        "spec": {"selector": {"matchLabels": {"app.kubernetes.io/name": NAME}},
                 "updateStrategy": {"type": "RollingUpdate"},
                 "template": {"metadata": {"labels": labels}, "spec": pod}},
    }]
