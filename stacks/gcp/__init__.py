"""GCP: a custom-mode VPC with no internet path, private GKE, a GPU pool, buckets, identity
and an image mirror.

This module is what the rest of the kit knows of GCP: one CloudSupport object, plain data plus
functions imported on first use, so importing it never imports google-auth or pulumi_gcp. The
Pulumi program part is stacks/gcp/stack.py (`build`).
"""

from __future__ import annotations

from stacks.clouds import CloudSupport, Egress, lazy
from stacks.gcp.catalog import CATALOG

SUPPORT = CloudSupport(
    target="gcp",
    extra="gcp",
    modules=("kubernetes", "pulumi", "pulumi_kubernetes", "pulumi_gcp", "google.cloud.storage",
             "helm_python"),
    build="stacks.gcp.stack:build",
    options="stacks.gcp.options:GcpOptions",
    default_outputs=lazy("stacks.gcp.defaults:default_outputs"),
    required=(("gcp.project", "the project the stack deploys into, e.g. acme-ml-prod "
                              "(`gcloud config get-value project`)"),),
    default_region="us-central1",
    bucket_scheme="gs",
    # Every upstream image is copied into the one Artifact Registry repository at its locked
    # digest (stacks/gcp/registry.py), under <prefix>/<segment>/<path>: no remote repository.
    copies_upstreams=True,
    internal_lb={"networking.gke.io/load-balancer-type": "Internal"},
    identity_annotation="iam.gke.io/gcp-service-account",
    # Workload Identity tokens come from GKE's metadata server: pods address 169.254.169.254:80,
    # which GKE 1.21+ serves at 169.254.169.252:988 (NetworkPolicy sees either, by dataplane).
    # Google APIs, storage included, answer on the restricted VIP (a private range).
    egress=(Egress("169.254.169.254/32", 80, "GKE metadata server (Workload Identity tokens)"),
            Egress("169.254.169.252/32", 988, "GKE metadata server, GKE 1.21 and later")),
    # GKE installs the NVIDIA driver and device plugin on GPU nodes itself; the cluster
    # autoscaler is GKE's.
    stack_images=(),
    gpu_catalog=CATALOG,
    state_scheme="gs",
    secrets_provider="gcpkms://projects/{project}/locations/{region}/keyRings/lima-kit-state/"
                     "cryptoKeys/state",
    state_check=lazy("stacks.gcp.preflight:state_bucket"),
    preflight=lazy("stacks.gcp.preflight:checks"),
    operator_reach=lazy("stacks.gcp.operator:reach"),
    adopt=lazy("stacks.gcp.kept:adoptions"),
    purge_kept=lazy("stacks.gcp.kept:purge"),
    leak_report=lazy("stacks.gcp.leaks:report"),
    registry_login=lazy("stacks.gcp.token:registry_login"),
    cluster_token=lazy("stacks.gcp.token:token"),
    prices="stacks.gcp:prices.json",
    price_update=lazy("stacks.gcp.prices:fetch"),
    plan_mocks="stacks.gcp.mocks:GcpMocks",
    init_section=(
        "gcp:\n"
        "  project: {GOOGLE_CLOUD_PROJECT}   # the project the stack deploys into\n"
        "  # VPC Service Controls, one required: access_policy (the kit makes a perimeter),\n"
        "  # service_perimeter (an existing one), or accept_no_perimeter: \"<why>\"\n"
        "  # access_policy: \"123456789\"     # gcloud access-context-manager policies list --organization ORG\n"
        "  # network: my-vpc               # an existing VPC network, with subnetwork; default: a new one\n"
        "  # subnetwork: my-subnet         # with secondary ranges named pods and services\n"),
    plan_concerns=(
        ("gcp:container/nodePool:", "nodes"),
        ("gcp:container/", "cluster"),
        ("gcp:compute/", "network"),
        ("gcp:dns/", "network"),
        ("gcp:accesscontextmanager/", "network"),
        ("gcp:storage/", "storage"),
        ("gcp:logging/", "cluster"),
        ("gcp:serviceaccount/", "identity"),
        ("gcp:projects/", "identity"),
        ("gcp:kms/", "identity"),
        ("gcp:artifactregistry/", "registry"),
    ),
)
