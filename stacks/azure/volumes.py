"""Block storage the server's model is staged on: AKS's Azure Disk CSI driver and snapshot
controller (turned on in the cluster's storage profile), a Premium SSD StorageClass encrypted
with the kit's key (the disk encryption set) and closed to disk export, and a
VolumeSnapshotClass of incremental snapshots.

Why: a stage Job copies each run's model onto a disk once and snapshots it; every server
replica restores its own disk from that snapshot (charts/stage, charts/tgi modelVolume). The
server's pod, where prompts are seen, then needs neither storage access nor storage egress.
"""

from __future__ import annotations

import pulumi

from stacks.azure.names import MODEL_CLASS

DRIVER = "disk.csi.azure.com"


def model_volumes(disk_encryption_set_id: pulumi.Input[str], provider: pulumi.ProviderResource,
                  depends_on: list) -> list:
    from stacks.cluster_layer import apply_groups

    return apply_groups({"volumes": classes(disk_encryption_set_id)}, provider, depends_on=depends_on)


def classes(disk_encryption_set_id: pulumi.Input[str]) -> list[dict]:
    labels = {"app.kubernetes.io/part-of": "lima-kit"}
    return [
        {"apiVersion": "storage.k8s.io/v1", "kind": "StorageClass",
         "metadata": {"name": MODEL_CLASS, "labels": labels},
         "provisioner": DRIVER,
         "parameters": {"skuName": "Premium_LRS", "diskEncryptionSetID": disk_encryption_set_id,
                        "diskEncryptionType": "EncryptionAtRestWithCustomerKey",
                        "networkAccessPolicy": "DenyAll", "publicNetworkAccess": "Disabled"},
         "reclaimPolicy": "Delete", "volumeBindingMode": "WaitForFirstConsumer",
         "allowVolumeExpansion": False},
        {"apiVersion": "snapshot.storage.k8s.io/v1", "kind": "VolumeSnapshotClass",
         "metadata": {"name": MODEL_CLASS, "labels": labels},
         "driver": DRIVER, "deletionPolicy": "Delete", "parameters": {"incremental": "true"}},
    ]
