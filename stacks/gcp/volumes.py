"""Block storage the server's model is staged on: GKE's Persistent Disk CSI driver (a cluster
add-on, with its snapshot controller) under a StorageClass encrypted with the kit's key and a
VolumeSnapshotClass that keeps snapshots in the deployment's region.

Why: a stage Job copies each run's model onto a volume once and snapshots it; every server
replica restores its own volume from that snapshot (charts/stage, charts/tgi modelVolume), so
the server's pod, where prompts are seen, needs neither bucket access nor storage egress.
"""

from __future__ import annotations

import pulumi

from stacks.gcp.names import MODEL_CLASS

DRIVER = "pd.csi.storage.gke.io"


def model_volumes(key_id: pulumi.Input[str], region: str, disk: str, after: list,
                  provider: pulumi.ProviderResource) -> list:
    from stacks.cluster_layer import apply_groups

    return apply_groups({"volumes": classes(key_id, region, disk)}, provider, depends_on=after)


def classes(key_id: pulumi.Input[str], region: str, disk: str) -> list[dict]:
    """`disk`: what the GPU machines attach (stacks.gcp.catalog.disk_type)."""
    labels = {"app.kubernetes.io/part-of": "lima-kit"}
    return [
        {"apiVersion": "storage.k8s.io/v1", "kind": "StorageClass",
         "metadata": {"name": MODEL_CLASS, "labels": labels},
         "provisioner": DRIVER,
         "parameters": {"type": disk, "disk-encryption-kms-key": key_id},
         "reclaimPolicy": "Delete", "volumeBindingMode": "WaitForFirstConsumer",
         "allowVolumeExpansion": False},
        # Snapshots stay in the region (the default would be a multi-region).
        {"apiVersion": "snapshot.storage.k8s.io/v1", "kind": "VolumeSnapshotClass",
         "metadata": {"name": MODEL_CLASS, "labels": labels},
         "driver": DRIVER, "deletionPolicy": "Delete",
         "parameters": {"storage-locations": region}},
    ]
