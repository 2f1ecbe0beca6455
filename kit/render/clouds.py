"""Per-cloud differences that reach Kubernetes objects, as one data table.

What the platform layer and the charts need to know about a place to run, and nothing
more: its bucket scheme, the annotations that make a load balancer internal, where
workload identity lives, and which link-local or Google-API addresses pods must reach.
"""

from __future__ import annotations

import re
from dataclasses import dataclass, field

from kit.errors import KitError

# RFC 1918: "the private network" when no narrower client CIDRs are known.
PRIVATE_NETWORKS = ["10.0.0.0/8", "172.16.0.0/12", "192.168.0.0/16"]
BUCKET_URI = re.compile(r"^(s3|gs|az)://[^\s/]+")


@dataclass(frozen=True)
class Egress:
    cidr: str
    port: int
    why: str


@dataclass(frozen=True)
class Cloud:
    scheme: str                                   # bucket URI scheme ("" = any)
    internal_lb: dict[str, str]                   # Service annotations: internal only
    identity_annotation: str                      # ServiceAccount annotation key
    identity_pod_labels: dict[str, str] = field(default_factory=dict)
    egress: tuple[Egress, ...] = ()               # extra allows every kit pod needs
    # Why storage or identity needs HTTPS to public addresses ("" = private CIDRs suffice).
    https_anywhere: str = ""


CLOUDS: dict[str, Cloud] = {
    "aws": Cloud(
        scheme="s3",
        # Both the AWS Load Balancer Controller and the in-tree controller: internal.
        internal_lb={
            "service.beta.kubernetes.io/aws-load-balancer-scheme": "internal",
            "service.beta.kubernetes.io/aws-load-balancer-internal": "true",
        },
        identity_annotation="eks.amazonaws.com/role-arn",
        egress=(Egress("169.254.170.23/32", 80, "EKS Pod Identity agent on the node"),),
        https_anywhere="S3 is reached through a gateway endpoint: S3's own public address "
                       "ranges, routed privately; without NAT nothing else is reachable",
    ),
    "gcp": Cloud(
        scheme="gs",
        internal_lb={"networking.gke.io/load-balancer-type": "Internal"},
        identity_annotation="iam.gke.io/gcp-service-account",
        egress=(
            Egress("199.36.153.8/30", 443, "private.googleapis.com (Private Google Access)"),
            Egress("169.254.169.254/32", 80, "GKE metadata server (workload identity)"),
            Egress("169.254.169.252/32", 988, "GKE metadata server on Dataplane V2"),
        ),
    ),
    "azure": Cloud(
        scheme="az",
        internal_lb={"service.beta.kubernetes.io/azure-load-balancer-internal": "true"},
        identity_annotation="azure.workload.identity/client-id",
        identity_pod_labels={"azure.workload.identity/use": "true"},
        https_anywhere="Entra ID's token endpoint (workload identity) has no private "
                       "endpoint; storage is reached through private endpoints",
    ),
    # An existing cluster: no load balancer preset, identity is the operator's choice.
    "kubernetes": Cloud(scheme="", internal_lb={}, identity_annotation=""),
}


def bucket_scheme(uri: str) -> str | None:
    match = BUCKET_URI.match(uri)
    return match.group(1) if match else None


def azure_account(name: str) -> str:
    """A storage account name from the deployment name: 3-24 lowercase letters and digits."""
    return (re.sub(r"[^a-z0-9]", "", name) + "kit")[:24]


def kit_buckets(name: str, scheme: str, data_uri: str, *, existing_cluster: bool) -> tuple[str, str]:
    """Default artifacts and models bucket URIs the kit creates for a deployment."""
    if scheme == "az":
        # az://<account>/<container>: the kit's own account on Azure; on an existing
        # cluster, containers in the data's account.
        account = azure_account(name)
        if existing_cluster and data_uri.startswith("az://"):
            account = data_uri[len("az://"):].split("/")[0] or account
        return f"az://{account}/{name}-artifacts", f"az://{account}/{name}-models"
    return f"{scheme}://{name}-artifacts", f"{scheme}://{name}-models"


def cloud_for(target: str) -> Cloud:
    if target not in CLOUDS:
        raise KitError(f"target: {target!r} has no cluster to render for",
                       hint="use target kubernetes, aws, gcp or azure")
    return CLOUDS[target]
