"""What every target's infrastructure hands to the platform layer and the CLI.

AWS, GCP, Azure and an existing cluster all produce one ClusterOutputs; the charts' values,
the platform objects and `kit up`'s later phases depend only on this, never on a cloud.
"""

from __future__ import annotations

from dataclasses import asdict, dataclass, field
from typing import Any

# The GPU pool's taint and label, the same on every cloud: the charts tolerate exactly this.
GPU_TAINT = {"key": "nvidia.com/gpu", "value": "present", "effect": "NoSchedule"}
GPU_LABEL = {"lima-kit.io/pool": "gpu"}


# The kubeconfig of a cluster the kit created runs the kit itself for a short-lived token
# (`kit cluster-token TARGET [ARGS...]`, kit/cluster/credential.py answers it): no cloud CLI to
# install, and no token written to the kubeconfig.
EXEC_API = "client.authentication.k8s.io/v1beta1"
TOKEN_COMMAND = "cluster-token"


def exec_user(target: str, *args: str) -> dict[str, Any]:
    """The kubeconfig `user` entry of a cluster of `target` the kit created (`args`: what the
    cloud's token needs to know, e.g. the cluster's name and region)."""
    return {"exec": {"apiVersion": EXEC_API, "command": "kit", "args": [TOKEN_COMMAND, target, *args],
                     "interactiveMode": "Never", "provideClusterInfo": False}}


def gpu_tolerations() -> list[dict[str, str]]:
    return [{"key": GPU_TAINT["key"], "operator": "Equal", "value": GPU_TAINT["value"],
             "effect": GPU_TAINT["effect"]}]


@dataclass
class ClusterOutputs:
    """Plain values (already resolved) describing one cluster the kit deploys onto."""

    cloud: str                              # aws | gcp | azure | kubernetes
    cluster_name: str
    namespace: str = "lima-kit"
    gpu_node_selector: dict[str, str] = field(default_factory=lambda: dict(GPU_LABEL))
    gpu_tolerations: list[dict[str, str]] = field(default_factory=gpu_tolerations)
    artifacts_uri: str = ""                 # runs, checkpoints, merged models (kit-owned bucket)
    models_uri: str = ""                    # mirrored base weights (kit-owned bucket)
    bucket_owner: str = ""                  # account that must own those two buckets
    data_uri: str = ""                      # the customer's data: read only
    trainer_sa_annotations: dict[str, str] = field(default_factory=dict)
    server_sa_annotations: dict[str, str] = field(default_factory=dict)
    registry_prefix: str = ""               # where images are pulled from inside the network
    internal_lb_annotations: dict[str, str] = field(default_factory=dict)
    private_cidrs: list[str] = field(default_factory=list)  # private endpoints live here
    # The storage service's own address ranges (AWS: the region's S3 prefix list): all that
    # pods allowed storage egress may reach on 443. Empty: not known (before `kit up`).
    storage_cidrs: list[str] = field(default_factory=list)
    # Block storage that can be snapshotted: the model is staged once per run onto a volume of
    # model_storage_class, snapshotted with model_snapshot_class, and each server replica
    # restores its own copy, so the server's pod needs no storage access. Empty: the cluster
    # has none, and the server's pod stages the model itself.
    model_storage_class: str = ""
    model_snapshot_class: str = ""
    kubeconfig: str = ""                    # secret: never printed

    def to_dict(self) -> dict[str, Any]:
        return asdict(self)
