"""Names the Azure stack gives its resources, as plain functions (no SDK): the stack, the
default outputs (`kit render` before anything exists), adoption, purge and the leak report
all derive them here, so they always agree.

Storage accounts, key vaults and registries have names unique across Azure: the kit derives
them from the deployment's name and a digest of (subscription, name), so they are known
before anything exists and another subscription's deployment of the same name differs.
"""

from __future__ import annotations

import hashlib

# On every resource the kit creates (Azure has no provider-wide default tags): `kit down`'s
# leak report searches for it; adoption and purge refuse anything without it.
STACK_TAG = "lima-kit:stack"

# The kit's containers in its own storage account: runs and checkpoints, and the model mirror.
KIT_CONTAINERS = ("artifacts", "models")
MODEL_CLASS = "lima-kit-models"   # the StorageClass and VolumeSnapshotClass of staged models
KEY = "storage-key"               # the one key: storage, node disks, Kubernetes secrets

# What outlives a plain `kit down` (retainOnDelete unless --purge), all in the kept resource
# group (deleting the deployment's own group would take them with it), adopted by the next
# `kit up`: Azure refuses to create what exists, children (containers, tables) included.
AUDIT_TABLES = ("AKSAudit", "AKSAuditAdmin")  # AKS's kube-audit and kube-audit-admin tables
ADOPTABLE = ("kept-group", "storage", "storage-blob-service",
             *(f"container-{c}" for c in KIT_CONTAINERS), "vault", "key",
             # The identity the storage account unwraps its key as, and its role on the key.
             "encryption-identity", "encryption-key-user",
             "audit-logs", *(f"audit-table-{t}" for t in AUDIT_TABLES))


def _digest(subscription: str, name: str, n: int) -> str:
    return hashlib.sha256(f"{subscription.lower()}/{name}".encode()).hexdigest()[:n]


def _alnum(name: str) -> str:
    return name.replace("-", "")


def resource_group(name: str) -> str:
    """Network, cluster, registry, identities: deleted by `kit down`."""
    return f"lima-kit-{name}"


def kept_group(name: str) -> str:
    """Storage account, key vault and audit logs: kept by a plain `kit down`."""
    return f"lima-kit-{name}-kept"


def node_group(name: str) -> str:
    """The resource group AKS makes for the nodes' VM scale sets, disks and load balancers."""
    return f"lima-kit-{name}-nodes"


def storage_account(name: str, subscription: str) -> str:
    """3-24 lowercase letters and digits."""
    return f"lk{_alnum(name)[:12]}{_digest(subscription, name, 10)}"


def key_vault(name: str, subscription: str) -> str:
    """3-24 letters, digits and single hyphens, starting with a letter."""
    return f"kv-{_alnum(name)[:10]}-{_digest(subscription, name, 8)}"


def registry(name: str, subscription: str) -> str:
    """5-50 letters and digits."""
    return f"lk{_alnum(name)[:30]}{_digest(subscription, name, 10)}"


def registry_prefix(name: str, subscription: str) -> str:
    """The registry's login server: the kit's images at <prefix>/<image>, upstream images at
    <prefix>/<segment>/<repository>, each copied there at its digest (stacks/azure/registry.py)."""
    return f"{registry(name, subscription)}.azurecr.io"


def workspace(name: str) -> str:
    return f"lima-kit-{name}-audit"


def identity(name: str, logical: str) -> str:
    """User-assigned managed identities: cluster, kubelet, encryption, trainer, server."""
    return f"{name}-{logical}"


def role_definition(name: str, subscription: str, logical: str) -> str:
    """The GUID name of a custom role definition of the deployment (stable across updates)."""
    import uuid

    return str(uuid.uuid5(uuid.NAMESPACE_URL, f"lima-kit/{subscription.lower()}/{name}/role/{logical}"))


def kept_assignment(name: str, subscription: str, logical: str) -> str:
    """The GUID name of a role assignment that is kept and adopted (role assignments are named
    by GUIDs: this one is derived, so the next deployment finds it)."""
    import uuid

    return str(uuid.uuid5(uuid.NAMESPACE_URL, f"lima-kit/{subscription.lower()}/{name}/{logical}"))


def arm_id(subscription: str, group: str, provider_path: str = "") -> str:
    base = f"/subscriptions/{subscription}/resourceGroups/{group}"
    return f"{base}/providers/{provider_path}" if provider_path else base


def kept_ids(name: str, subscription: str) -> dict[str, str]:
    """Logical name -> ARM id of each resource a plain `kit down` keeps (ADOPTABLE)."""
    group = kept_group(name)
    vault = key_vault(name, subscription)
    account = arm_id(subscription, group, f"Microsoft.Storage/storageAccounts/{storage_account(name, subscription)}")
    logs = arm_id(subscription, group, f"Microsoft.OperationalInsights/workspaces/{workspace(name)}")
    ids = {
        "kept-group": arm_id(subscription, group),
        "storage": account,
        "storage-blob-service": f"{account}/blobServices/default",
        **{f"container-{c}": f"{account}/blobServices/default/containers/{c}" for c in KIT_CONTAINERS},
        "vault": arm_id(subscription, group, f"Microsoft.KeyVault/vaults/{vault}"),
        "key": arm_id(subscription, group, f"Microsoft.KeyVault/vaults/{vault}/keys/{KEY}"),
        "encryption-identity": arm_id(subscription, group, "Microsoft.ManagedIdentity/userAssignedIdentities/"
                                                           f"{identity(name, 'encryption')}"),
        "encryption-key-user": arm_id(subscription, group, f"Microsoft.KeyVault/vaults/{vault}/keys/{KEY}")
                               + "/providers/Microsoft.Authorization/roleAssignments/"
                               + kept_assignment(name, subscription, "encryption-key-user"),
        "audit-logs": logs,
        **{f"audit-table-{t}": f"{logs}/tables/{t}" for t in AUDIT_TABLES},
    }
    return {logical: ids[logical] for logical in ADOPTABLE}


# AKS taints every Spot node with this (and adds it when not declared): the GPU pool declares
# it, and the workloads tolerate it, when gpu.spot is on.
SPOT_TAINT = {"key": "kubernetes.azure.com/scalesetpriority", "value": "spot", "effect": "NoSchedule"}


def gpu_tolerations(spot: bool) -> list[dict[str, str]]:
    """The contract's GPU toleration, plus the Spot taint's on a Spot pool."""
    from stacks.contract import gpu_tolerations as base

    extra = [{"key": SPOT_TAINT["key"], "operator": "Equal", "value": SPOT_TAINT["value"],
              "effect": SPOT_TAINT["effect"]}] if spot else []
    return base() + extra
