"""GCP preflight (`kit doctor`): application-default credentials that can read the project,
the APIs the stack needs enabled, GPU quota for a full pool (the region's and the project's
global GPUS_ALL_REGIONS, 0 on new projects), and the gs:// bucket of Pulumi state. No registry
login to check here: `kit up` copies every upstream image from the operator's machine
(stacks/gcp/registry.py), with its own registry logins, and pushes with an access token of the
application-default credentials the identity check reads. Each check answers in seconds, creates
nothing, and says how to fix what is missing."""

from __future__ import annotations

from typing import TYPE_CHECKING, Any, Callable

from kit.errors import KitError
from stacks.clouds import Check

if TYPE_CHECKING:
    from kit.config import KitConfig

# What the stack and the kit call: GKE, networks and disks, keys, the registry, buckets, DNS,
# service accounts and Workload Identity tokens, logs, and the leak report's asset search.
APIS = ("container", "compute", "cloudkms", "artifactregistry", "storage", "dns", "iam",
        "iamcredentials", "logging", "cloudresourcemanager", "cloudasset", "serviceusage")
PROJECT_URL = "https://cloudresourcemanager.googleapis.com/v1/projects/{project}"
SERVICES_URL = ("https://serviceusage.googleapis.com/v1/projects/{project}/services"
                "?filter=state:ENABLED&pageSize=200")
REGION_URL = "https://compute.googleapis.com/compute/v1/projects/{project}/regions/{region}"
# projects.get of the Compute API: its `quotas` hold the project-wide ones (GPUS_ALL_REGIONS).
COMPUTE_PROJECT_URL = "https://compute.googleapis.com/compute/v1/projects/{project}"
GLOBAL_GPUS = "GPUS_ALL_REGIONS"


def checks(cfg: "KitConfig") -> list[Callable[["KitConfig"], Check]]:
    # Imported here, on the calling thread: the checks then run on parallel threads, and two
    # threads importing one package for the first time can deadlock on the import lock.
    import google.auth  # noqa: F401
    import google.auth.transport.requests  # noqa: F401
    import google.cloud.storage  # noqa: F401

    from stacks.gcp import contained

    return [identity, apis, gpu_quota, global_gpu_quota, data_bucket,
            contained.perimeter, contained.network]


def _api(cfg: "KitConfig") -> Any:
    from stacks.gcp.api import GoogleApi

    return GoogleApi(cfg)


def identity(cfg: "KitConfig") -> Check:
    try:
        project = _api(cfg).get(PROJECT_URL.format(project=cfg.gcp.project))
    except KitError as exc:
        return Check("gcp credentials", False, exc.message, exc.hint)
    if project is None:
        return Check("gcp credentials", False, f"project {cfg.gcp.project} not found",
                     "check gcp.project in kit.yaml (`gcloud projects list`)")
    return Check("gcp credentials", True,
                 f"project {project.get('projectId')} (number {project.get('projectNumber')}), "
                 f"{project.get('lifecycleState', '').lower()}")


def apis(cfg: "KitConfig") -> Check:
    try:
        api = _api(cfg)
        url, enabled = SERVICES_URL.format(project=cfg.gcp.project), set()
        while url:
            page = api.get(url) or {}
            enabled |= {s["config"]["name"] for s in page.get("services") or []}
            token = page.get("nextPageToken")
            url = f"{SERVICES_URL.format(project=cfg.gcp.project)}&pageToken={token}" if token else ""
    except KitError as exc:
        return Check("gcp apis", False, exc.message, exc.hint)
    return api_check(cfg, enabled)


def api_check(cfg: "KitConfig", enabled: set[str]) -> Check:
    wanted = APIS
    if cfg.gcp.access_policy or cfg.gcp.service_perimeter:   # the perimeter's API
        wanted = (*wanted, "accesscontextmanager")
    missing = [f"{a}.googleapis.com" for a in wanted if f"{a}.googleapis.com" not in enabled]
    if missing:
        return Check("gcp apis", False, f"not enabled: {', '.join(missing)}",
                     f"gcloud services enable {' '.join(missing)} --project {cfg.gcp.project}")
    return Check("gcp apis", True, f"{len(wanted)} APIs the stack calls are enabled")


def gpu_quota(cfg: "KitConfig") -> Check:
    try:
        region = _api(cfg).get(REGION_URL.format(project=cfg.gcp.project, region=cfg.region)) or {}
    except KitError as exc:
        return Check("gpu quota", False, exc.message, exc.hint)
    return quota_check(cfg, region.get("quotas") or [])


def quota_check(cfg: "KitConfig", quotas: list[dict[str, Any]]) -> Check:
    """The GPU pool's need (GPUs per node x gpu.max_nodes) against the region's quota of its
    accelerator (the PREEMPTIBLE_ metric for spot)."""
    from stacks.gcp import SUPPORT
    from stacks.gcp.catalog import accelerator

    try:
        machine = SUPPORT.gpu_offer(cfg.gpu.type, cfg.gpu.count).machine_types[0]
    except KitError as exc:
        return Check("gpu quota", False, exc.message, exc.hint)
    metric = ("PREEMPTIBLE_" if cfg.gpu.spot else "") + accelerator(machine)[1]
    need = cfg.gpu.count * cfg.gpu.max_nodes
    quota = next((q for q in quotas if q.get("metric") == metric), None)
    if quota is None:
        return Check("gpu quota", False, f"no quota {metric} in {cfg.region}",
                     f"request it: IAM & Admin > Quotas, metric {metric}, region {cfg.region}")
    free = int(quota.get("limit", 0)) - int(quota.get("usage", 0))
    what = (f"{metric}: {free:g} free of {quota.get('limit', 0):g}; {cfg.gpu.max_nodes} x "
            f"{machine} need {need}")
    if free < need:
        return Check("gpu quota", False, what,
                     f"request {metric} >= {need + int(quota.get('usage', 0))} in {cfg.region} "
                     "(IAM & Admin > Quotas)")
    return Check("gpu quota", True, what)


def global_gpu_quota(cfg: "KitConfig") -> Check:
    try:
        project = _api(cfg).get(COMPUTE_PROJECT_URL.format(project=cfg.gcp.project)) or {}
    except KitError as exc:
        return Check("global gpu quota", False, exc.message, exc.hint)
    return global_quota_check(cfg, project.get("quotas") or [])


def global_quota_check(cfg: "KitConfig", quotas: list[dict[str, Any]]) -> Check:
    """The project's GPUS_ALL_REGIONS quota caps GPUs of every type in all regions together,
    on top of the regional quota of each type, and new projects get 0
    (https://cloud.google.com/compute/resource-usage, read 2026-12-07): a pool the regional
    quota allows may still get no node. Spot GPUs count against it too."""
    need = cfg.gpu.count * cfg.gpu.max_nodes
    quota = next((q for q in quotas if q.get("metric") == GLOBAL_GPUS), None)
    if quota is None:
        return Check("global gpu quota", False, f"no {GLOBAL_GPUS} quota on project {cfg.gcp.project}",
                     f"request it: IAM & Admin > Quotas, metric {GLOBAL_GPUS} (global)")
    limit, usage = int(quota.get("limit", 0)), int(quota.get("usage", 0))
    what = (f"{GLOBAL_GPUS}: {limit - usage} free of {limit}; {cfg.gpu.max_nodes} node(s) x "
            f"{cfg.gpu.count} GPUs need {need}")
    if limit - usage < need:
        return Check("global gpu quota", False, what,
                     f"request {GLOBAL_GPUS} >= {need + usage} for project {cfg.gcp.project} "
                     "(IAM & Admin > Quotas, `gcloud compute project-info describe` shows it)")
    return Check("global gpu quota", True, what)


def data_bucket(cfg: "KitConfig") -> Check:
    """The trainer's read grant is an IAM condition on the data's prefix, which Cloud Storage
    accepts only on a bucket with uniform bucket-level access."""
    from stacks.gcp.storage import parse_gs_uri

    try:
        bucket, _ = parse_gs_uri(cfg.data.uri)
        uniform = _api(cfg).uniform_access(bucket)
    except KitError as exc:
        return Check("data bucket access", False, exc.message, exc.hint)
    return access_check(bucket, uniform)


def access_check(bucket: str, uniform: bool | None) -> Check:
    if uniform is None:
        return Check("data bucket access", False, f"gs://{bucket}: no such bucket",
                     "check data.uri in kit.yaml")
    if not uniform:
        return Check("data bucket access", False,
                     f"gs://{bucket} uses fine-grained (ACL) access: the trainer's read grant on "
                     "the data's prefix needs uniform bucket-level access",
                     f"gcloud storage buckets update gs://{bucket} --uniform-bucket-level-access")
    return Check("data bucket access", True, f"gs://{bucket}: uniform bucket-level access")


def state_bucket(cfg: "KitConfig") -> Check:
    """gs:// Pulumi state: the bucket answers."""
    from kit.data.storage import parse_uri

    url = cfg.state_url
    bucket = parse_uri(url).bucket
    try:
        labels = _api(cfg).bucket_labels(bucket)
    except KitError as exc:
        return Check("state", False, f"{url}: {exc.message}", exc.hint)
    except Exception as exc:  # google-auth / network errors: one line, not a traceback
        return Check("state", False, f"{url}: {' '.join(str(exc).split())[:140]}",
                     "check the credentials: gcloud auth application-default login")
    if labels is None:
        return Check("state", False, f"{url}: no such bucket",
                     f"create it (private, versioned): gcloud storage buckets create gs://{bucket} "
                     f"--location {cfg.region} --uniform-bucket-level-access "
                     "--public-access-prevention && gcloud storage buckets update "
                     f"gs://{bucket} --versioning")
    return Check("state", True, url)
