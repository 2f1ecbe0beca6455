"""After `kit down`: what still carries the stack's label in the project, and how to remove it.

Cloud Asset Inventory is searched for the stack's label and for the cluster's own label (disks
and load balancers' resources GKE made carry goog-k8s-cluster-name). The kept buckets, key and
log bucket are listed as kept (by design); anything else is listed with the command that
removes it.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any
from urllib.parse import quote

from stacks.gcp.names import STACK_LABEL

if TYPE_CHECKING:
    from kit.config import KitConfig

ASSETS = "https://cloudasset.googleapis.com/v1/projects/{project}:searchAllResources?query={query}"
# Asset type -> how to remove one by hand ({name}: its short name, {location}).
REMOVE_HINTS = {
    "compute.googleapis.com/Disk": "gcloud compute disks delete {name} --zone {location}",
    "compute.googleapis.com/Instance": "gcloud compute instances delete {name} --zone {location}",
    "compute.googleapis.com/ForwardingRule": "gcloud compute forwarding-rules delete {name} --region {location}",
    "compute.googleapis.com/Snapshot": "gcloud compute snapshots delete {name}",
    "storage.googleapis.com/Bucket": "gcloud storage rm --recursive gs://{name}   (deletes every object in it)",
    "artifactregistry.googleapis.com/Repository":
        "gcloud artifacts repositories delete {name} --location {location}",
}
KEPT = ("storage.googleapis.com/Bucket", "cloudkms.googleapis.com/CryptoKey",
        "logging.googleapis.com/LogBucket")


def report(cfg: "KitConfig", saved: dict[str, Any], purge: bool) -> list[str]:
    from stacks.gcp.api import GoogleApi

    return leak_report(GoogleApi(cfg), cfg.gcp.project or "", cfg.name,
                       saved.get("cluster_name") or cfg.name, purge=purge)


def leftovers(api: Any, project: str, name: str, cluster: str) -> list[dict[str, Any]]:
    found: dict[str, dict[str, Any]] = {}
    for query in (f"labels.{STACK_LABEL}={name}", f"labels.goog-k8s-cluster-name={cluster}"):
        url = ASSETS.format(project=project, query=quote(query))
        while url:
            page = api.get(url) or {}
            for item in page.get("results") or []:
                found.setdefault(item["name"], item)
            token = page.get("nextPageToken")
            url = f"{ASSETS.format(project=project, query=quote(query))}&pageToken={token}" if token else ""
    return list(found.values())


def leak_report(api: Any, project: str, name: str, cluster: str, *, purge: bool) -> list[str]:
    lines, others = [], []
    for item in leftovers(api, project, name, cluster):
        kind, full = item.get("assetType", ""), item["name"]
        if kind in KEPT and not purge:
            lines.append(f"kept (the kit's data, key or audit trail; `kit down --purge` deletes it): {full}")
            continue
        short = full.rsplit("/", 1)[-1]
        hint = REMOVE_HINTS.get(kind, "remove it in the console, or with gcloud").format(
            name=short, location=item.get("location", ""))
        others.append(f"[yellow]still exists[/]: {full}\n      remove: {hint}")
    lines += others
    if others:
        lines.append("Cloud Asset Inventory lags deletions by a few minutes; list again with: gcloud "
                     f"asset search-all-resources --scope projects/{project} "
                     f"--query 'labels.{STACK_LABEL}={name}'")
    elif not lines:
        lines.append(f"nothing labelled {STACK_LABEL}={name} is left")
    return lines
