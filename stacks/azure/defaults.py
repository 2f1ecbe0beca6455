"""What the Azure stack will hand the kit, known before it exists (`kit render`, `kit doctor`,
the offline plan): the names come from stacks/azure/names.py, exactly as the stack builds them.

No ServiceAccount annotation and no pod label: storage pods take tokens for the node pools'
identity from their node's metadata endpoint (stacks/azure/identity.py).
"""

from __future__ import annotations

import ipaddress
from typing import TYPE_CHECKING

from kit.errors import KitError
from stacks.azure import SUPPORT
from stacks.azure.names import MODEL_CLASS, gpu_tolerations, registry_prefix, storage_account
from stacks.contract import ClusterOutputs

if TYPE_CHECKING:
    from kit.config import KitConfig


def subscription(cfg: "KitConfig") -> str:
    """kit.yaml's azure.subscription_id (required for target azure: kit.config checks it, as
    CloudSupport.required says), as ARM spells ids."""
    return str(cfg.azure.subscription_id).lower()


def data_location(uri: str, key: str = "data.uri") -> tuple[str, str, str]:
    """(account, container, prefix) of an Azure blob URI (az:// or the https blob URL), through
    the kit's one URI parser."""
    from kit.data.storage import parse_uri

    loc = parse_uri(uri)
    if loc.scheme != "az":
        raise KitError(f"{key}: {uri!r} is not an Azure blob URI",
                       hint="target azure reads the data from Blob Storage: "
                            "https://ACCOUNT.blob.core.windows.net/CONTAINER/PREFIX or "
                            "az://ACCOUNT/CONTAINER/PREFIX")
    return loc.account, loc.bucket, loc.prefix


def subnet_cidrs(vnet_cidr: str) -> tuple[str, str]:
    """(nodes, private endpoints) of a VNet the kit creates: the first half of the VNet for
    the nodes, a /24 at its end for the private endpoints."""
    vnet = ipaddress.ip_network(vnet_cidr, strict=False)
    if not 16 <= vnet.prefixlen <= 20:
        raise KitError(f"azure.vnet_cidr: {vnet_cidr} must be a /16 to /20", hint="e.g. 10.42.0.0/16")
    nodes = next(vnet.subnets(new_prefix=vnet.prefixlen + 1))
    endpoints = list(vnet.subnets(new_prefix=24))[-1]
    return str(nodes), str(endpoints)


def default_outputs(cfg: "KitConfig") -> ClusterOutputs:
    sub = subscription(cfg)
    account = storage_account(cfg.name, sub)
    data_location(cfg.data.uri)
    # A VNet the kit creates has known subnets: storage pods may then reach the private
    # endpoints' subnet only. An existing VNet's ranges are known once the stack has read them.
    private: list[str] = []
    endpoints: list[str] = []
    if not cfg.azure.node_subnet_id:
        private, endpoints = [cfg.azure.vnet_cidr], [subnet_cidrs(cfg.azure.vnet_cidr)[1]]
    return ClusterOutputs(
        cloud="azure", cluster_name=cfg.name, namespace=cfg.kubernetes.namespace,
        gpu_tolerations=gpu_tolerations(cfg.gpu.spot),
        artifacts_uri=f"az://{account}/artifacts", models_uri=f"az://{account}/models",
        data_uri=cfg.data.uri, registry_prefix=registry_prefix(cfg.name, sub),
        internal_lb_annotations=dict(SUPPORT.internal_lb),
        private_cidrs=private, storage_cidrs=endpoints,
        model_storage_class=MODEL_CLASS, model_snapshot_class=MODEL_CLASS,
    )
