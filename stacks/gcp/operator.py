"""How the operator's machine reaches a GCP stack during `kit up` (no SDK imported).

The API server through GKE's DNS-based endpoint (stacks/gcp/cluster.py): any address, IAM
decides, so no operator_cidrs are needed; the IP endpoint is public only for
network.operator_cidrs. Artifact Registry, Cloud Storage and Cloud KMS are Google APIs
authorised by IAM from any address (a VPC Service Controls perimeter of the customer's
would apply to all of them alike).
"""

from __future__ import annotations

from typing import TYPE_CHECKING

from stacks.clouds import Reach, cidrs_source

if TYPE_CHECKING:
    from kit.config import KitConfig


def reach(cfg: "KitConfig") -> list[Reach]:
    ip = cidrs_source(cfg)
    return [
        Reach("API server", "GKE DNS-based endpoint, any address, authorised by IAM "
                            f"(container.clusters.connect); its IP endpoint: {ip}", True),
        Reach("registry", "Artifact Registry API, any address, authorised by IAM", True),
        Reach("the kit's storage", "Cloud Storage API, any address, authorised by IAM", True),
        Reach("key", "Cloud KMS API, any address, authorised by IAM", True, needed=False),
    ]
