"""VPC Service Controls: the project (and the data bucket's project) inside a service
perimeter, so credentials inside the network reach no bucket, registry, key or log bucket of
a project outside it.

The restricted VIP (stacks/gcp/network.py) only routes to Google APIs; it does not limit
whose resources a request names: without a perimeter the trainer, holding PHI, could write to
a bucket of any project. With one, "requests cannot be made by the service inside the
perimeter to any resource outside the perimeter" (VPC Service Controls for Compute Engine,
https://docs.cloud.google.com/compute/docs/instances/protecting-resources-vpc-service-controls,
read 2026-12-07).

kit.yaml chooses one of three (stacks/gcp/options.py):
- gcp.access_policy: the kit creates a perimeter in that access policy around the project and
  gcp.data_project, restricting RESTRICTED_SERVICES, with an access level admitting
  network.operator_cidrs (the operator's `kit up` calls the same APIs from outside);
- gcp.service_perimeter: an existing perimeter the project belongs to (often an
  organization's, managed by its own team): `kit doctor` checks membership and the restricted
  services, and the plan states the requirement;
- gcp.accept_no_perimeter: the reason the risk is accepted, shown by `kit plan`.
With none of them the stack refuses to start.
"""

from __future__ import annotations

from typing import TYPE_CHECKING

import pulumi
import pulumi_gcp as gcp

from kit.errors import KitError

if TYPE_CHECKING:
    from stacks.gcp.common import Ctx
    from stacks.gcp.options import GcpOptions

# What the kit keeps data in: buckets (data, weights, runs), images (Artifact Registry), the
# kit's key, and its log bucket. All are VPC Service Controls supported products.
RESTRICTED_SERVICES = ("storage.googleapis.com", "artifactregistry.googleapis.com",
                       "cloudkms.googleapis.com", "logging.googleapis.com")
MISSING_HINT = ("set gcp.access_policy (the kit creates a perimeter: gcloud access-context-manager "
                "policies list --organization ORG), or gcp.service_perimeter (an existing one), or "
                "gcp.accept_no_perimeter: \"<why>\" to accept the risk")


def require(opts: "GcpOptions") -> None:
    """The refusal: no perimeter and no accepted risk."""
    if not (opts.access_policy or opts.service_perimeter or opts.accept_no_perimeter):
        raise KitError("gcp.access_policy: target gcp needs a VPC Service Controls perimeter (the "
                       "restricted VIP alone lets storage credentials write to any project's "
                       "bucket)", hint=MISSING_HINT)


def perimeter_id(name: str) -> str:
    """A perimeter's or access level's short name: letters, digits and underscores."""
    return "lima_kit_" + name.replace("-", "_")


def notes(opts: "GcpOptions", project_number: str, operator_cidrs: list[str]) -> list[str]:
    """What `kit plan` states about the perimeter (plain text, one line each)."""
    if opts.access_policy and not operator_cidrs:
        return [f"requires: the operator's calls (`kit up`, `kit data push`) to "
                f"{', '.join(RESTRICTED_SERVICES)} come from inside the perimeter, or from "
                "network.operator_cidrs (none set: no access level admits them)"]
    if opts.accept_no_perimeter:
        return [f"risk accepted (gcp.accept_no_perimeter): no VPC Service Controls perimeter: "
                f"{opts.accept_no_perimeter}"]
    if opts.service_perimeter:
        return [f"requires: projects/{project_number} (and the data bucket's project) inside "
                f"{opts.service_perimeter}, restricting {', '.join(RESTRICTED_SERVICES)} "
                "(`kit doctor` checks it)"]
    return []


def perimeter(ctx: "Ctx", data_project_number: str, operator_cidrs: list[str]) -> None:
    """The perimeter the kit creates (gcp.access_policy), or nothing. Inside a perimeter the
    project's Artifact Registry VPC SC configuration is set to DENY in the kit's region: no
    remote repository there may fetch from an upstream outside the perimeter (gcloud artifacts
    vpcsc-config, https://cloud.google.com/sdk/gcloud/reference/artifacts/vpcsc-config, read
    2026-12-07). The kit has no remote repository, it copies every upstream image in
    (stacks/gcp/registry.py); DENY is set explicitly, not left to the default, so a deployment
    that an earlier kit set to ALLOW is turned back."""
    opts = ctx.gcp
    require(opts)
    if opts.access_policy:
        policy = f"accessPolicies/{opts.access_policy}"
        short = perimeter_id(ctx.name)
        resources = [f"projects/{ctx.project_number}"]
        if data_project_number and data_project_number != ctx.project_number:
            resources.append(f"projects/{data_project_number}")
        levels: list[pulumi.Input[str]] = []
        if operator_cidrs:
            level = gcp.accesscontextmanager.AccessLevel(
                "operators", parent=policy, name=f"{policy}/accessLevels/{short}_operators",
                title=f"lima-kit {ctx.name} operators",
                description="network.operator_cidrs: where `kit up` and `kit doctor` run",
                basic={"conditions": [{"ip_subnetworks": list(operator_cidrs)}]},
                opts=ctx.opts())
            levels.append(level.name)
        gcp.accesscontextmanager.ServicePerimeter(
            "perimeter", parent=policy, name=f"{policy}/servicePerimeters/{short}",
            title=f"lima-kit {ctx.name}", perimeter_type="PERIMETER_TYPE_REGULAR",
            description="lima-kit: nothing inside reaches a bucket, registry, key or log "
                        "bucket outside",
            status={"resources": resources, "restricted_services": list(RESTRICTED_SERVICES),
                    "access_levels": levels},
            opts=ctx.opts())
    if opts.access_policy or opts.service_perimeter:
        gcp.artifactregistry.VpcscConfig(
            "registry-vpcsc", location=ctx.region, vpcsc_policy="DENY",
            opts=ctx.opts(aliases=[pulumi.Alias(name="mirror-upstreams")]))
