"""The stack's customer-managed key (Cloud KMS) and the audit trail's log bucket.

One key, rotated every 90 days, for Kubernetes secrets (application-layer encryption), node
and model disks, the buckets, the registry and the log bucket; each Google service that
encrypts for the kit gets encrypt/decrypt on this key only, through its service agent.

Cloud KMS never deletes a key ring and deletes a key only by destroying its versions, so the
ring is always adopted when it exists (stack config `adopt`, found by stacks/gcp/kept.py), and
the key outlives a plain `kit down` (the retained buckets stay readable); --purge destroys the
key's versions (after destroy_scheduled_duration, 30 days, during which it can be restored).
"""

from __future__ import annotations

from dataclasses import dataclass

import pulumi
import pulumi_gcp as gcp

from stacks.gcp.common import Ctx
from stacks.gcp.names import KEY, KEY_RING, LOG_BUCKET, key_name, key_ring_name, log_bucket_name

ROTATION = "7776000s"          # 90 days
DESTROY_AFTER = "2592000s"     # 30 days between a purge and the versions' destruction
ENCRYPTER = "roles/cloudkms.cryptoKeyEncrypterDecrypter"
# Service agents that encrypt with the key for the kit and exist once their API is enabled: GKE
# (secrets) and Compute (node and model disks). Artifact Registry's is made on first use, so
# the stack asks for it (ServiceIdentity); Cloud Storage's and Cloud Logging's names are read
# from their APIs (older projects' differ).
AGENTS = {"container": "container-engine-robot", "compute": "compute-system"}


@dataclass
class KitKey:
    key: gcp.kms.CryptoKey
    grants: list[gcp.kms.CryptoKeyIAMMember]   # whatever a service agent encrypts waits for these
    registry_agent: pulumi.Output[str]         # Artifact Registry's agent (member form)


def key(ctx: Ctx) -> KitKey:
    """The key, and its grants to the service agents that encrypt with it."""
    ring = gcp.kms.KeyRing(KEY_RING, name=key_ring_name(ctx.name), location=ctx.region,
                           opts=ctx.opts(retain_on_delete=True, import_=ctx.adopt.get(KEY_RING)))
    k = gcp.kms.CryptoKey(
        KEY, name=key_name(), key_ring=ring.id, purpose="ENCRYPT_DECRYPT",
        rotation_period=ROTATION, destroy_scheduled_duration=DESTROY_AFTER,
        version_template={"algorithm": "GOOGLE_SYMMETRIC_ENCRYPTION", "protection_level": "SOFTWARE"},
        opts=ctx.opts(parent=ring, retain_on_delete=not ctx.purge, import_=ctx.adopt.get(KEY)))
    grants = [grant(ctx, service, k, ctx.agent(agent)) for service, agent in AGENTS.items()]
    registry = gcp.projects.ServiceIdentity("agent-artifactregistry", project=ctx.project,
                                            service="artifactregistry.googleapis.com", opts=ctx.opts())
    grants.append(grant(ctx, "artifactregistry", k, registry.member))
    logging = gcp.logging.get_project_cmek_settings(project=ctx.project, opts=ctx.invoke())
    grants.append(grant(ctx, "logging", k, f"serviceAccount:{logging.service_account_id}"))
    return KitKey(key=k, grants=grants, registry_agent=registry.member)


def grant(ctx: Ctx, logical: str, k: gcp.kms.CryptoKey, member: pulumi.Input[str]) -> gcp.kms.CryptoKeyIAMMember:
    return gcp.kms.CryptoKeyIAMMember(f"key-{logical}", crypto_key_id=k.id, role=ENCRYPTER,
                                      member=member, opts=ctx.opts(parent=k))


# What the audit trail holds: Kubernetes audit, control-plane components, GKE's own admin
# operations, nodes and workloads of the cluster, and the subnetwork's flow logs.
CLUSTER_LOGS = ("k8s_cluster", "k8s_control_plane_component", "gke_cluster", "gke_nodepool",
                "k8s_node", "k8s_pod", "k8s_container")


def audit_logs(ctx: Ctx, k: gcp.kms.CryptoKey, subnet: str,
               after: list[pulumi.Resource]) -> gcp.logging.ProjectBucketConfig:
    """A log bucket of the kit's own, encrypted with the key and kept logs.retention_days,
    and a sink routing the cluster's and the network's logs into it. Kept by a plain
    `kit down` like the buckets (a deleted log bucket's name is unusable for 7 days)."""
    bucket = gcp.logging.ProjectBucketConfig(
        LOG_BUCKET, project=ctx.project, location=ctx.region, bucket_id=log_bucket_name(ctx.name),
        retention_days=min(ctx.log_retention_days, 3650),
        description=f"lima-kit {ctx.name}: GKE control plane, audit and VPC flow logs",
        cmek_settings={"kms_key_name": k.id},
        opts=ctx.opts(retain_on_delete=not ctx.purge, import_=ctx.adopt.get(LOG_BUCKET),
                      depends_on=after))
    gcp.logging.ProjectSink(
        "audit-sink", name=f"lima-kit-{ctx.name}", project=ctx.project,
        destination=(f"logging.googleapis.com/projects/{ctx.project}/locations/{ctx.region}/"
                     f"buckets/{log_bucket_name(ctx.name)}"),
        filter=(f'(resource.type=({" OR ".join(CLUSTER_LOGS)}) AND '
                f'resource.labels.cluster_name="{ctx.name}") OR '
                f'(resource.type="gce_subnetwork" AND log_id("compute.googleapis.com/vpc_flows") '
                f'AND resource.labels.subnetwork_name="{subnet}")'),
        unique_writer_identity=True, opts=ctx.opts(parent=bucket))
    return bucket
