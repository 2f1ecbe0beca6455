"""GCP: adopt what an earlier deployment of the same stack kept, or purge it.

A plain `kit down` keeps the kit's buckets, its Cloud KMS key and the audit log bucket
(retainOnDelete) and Pulumi forgets them; Cloud KMS never deletes a key ring at all. Their
names are deterministic, so the next `kit up` would collide with them. Before `pulumi up`, Google
is asked which of them exist and belong to this stack (the stack's label on buckets and
the key), and passes their ids to the program (stack config `adopt`), which imports them. A
bucket or key with the kit's name but not this stack's label belongs to someone else: the kit
refuses to touch it. Only what the stack's state does not hold already is looked up.

`kit down --purge` after a plain `kit down` finds the same kept resources the same way and
deletes them directly: buckets emptied of every version and removed, the key's versions
scheduled for destruction, the log bucket deleted; the key ring stays (Cloud KMS keeps every
ring forever; with no usable key in it, it holds nothing).
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any, Protocol

from kit.errors import KitError
from stacks.gcp.names import (
    KEY,
    KEY_RING,
    KIT_BUCKETS,
    LOG_BUCKET,
    STACK_LABEL,
    key_id,
    key_ring_name,
    kit_bucket_name,
    log_bucket_name,
)

if TYPE_CHECKING:
    from kit.config import KitConfig

TYPES = {**dict.fromkeys(KIT_BUCKETS, "gcp:storage/bucket:Bucket"),
         KEY_RING: "gcp:kms/keyRing:KeyRing", KEY: "gcp:kms/cryptoKey:CryptoKey",
         LOG_BUCKET: "gcp:logging/projectBucketConfig:ProjectBucketConfig"}
KMS = "https://cloudkms.googleapis.com/v1/"
LOGGING = "https://logging.googleapis.com/v2/"


class Api(Protocol):
    """What adoption and purge ask of Google (stacks.gcp.api.GoogleApi; tests pass a fake)."""

    def bucket_labels(self, name: str) -> dict[str, str] | None: ...   # None: no such bucket
    def empty_and_delete_bucket(self, name: str) -> int: ...
    def get(self, url: str) -> dict[str, Any] | None: ...              # None: 404
    def call(self, method: str, url: str) -> dict[str, Any]: ...


def managed(deployment: dict[str, Any]) -> set[str]:
    """Logical names of adoptable resources the stack's state already holds."""
    from stacks.settings import held_in_state

    return held_in_state(deployment, TYPES)


def adoptions(cfg: "KitConfig", deployment: dict[str, Any]) -> dict[str, str]:
    wanted = set(TYPES) - managed(deployment)
    from stacks.gcp.api import GoogleApi

    return find(cfg, wanted, GoogleApi(cfg)) if wanted else {}


def purge(cfg: "KitConfig") -> list[str]:
    from stacks.gcp.api import GoogleApi

    api = GoogleApi(cfg)
    return purge_found(cfg, find(cfg, set(TYPES), api, purging=True), api)


def find(cfg: "KitConfig", wanted: set[str], api: Api, *, purging: bool = False) -> dict[str, str]:
    """Logical name -> import id of each kept resource of this stack among `wanted`."""
    project, region, name = cfg.gcp.project or "", cfg.region or "", cfg.name
    found: dict[str, str] = {}
    for purpose in (p for p in KIT_BUCKETS if p in wanted):
        bucket = kit_bucket_name(name, purpose, project)
        labels = api.bucket_labels(bucket)
        if labels is not None:
            _require_label(f"gs://{bucket}", labels, name, "a bucket the kit did not create for "
                           "this stack; it is never adopted. Rename the deployment (name: in kit.yaml)")
            found[purpose] = bucket
    ring = f"projects/{project}/locations/{region}/keyRings/{key_ring_name(name)}"
    if KEY_RING in wanted and api.get(KMS + ring) is not None:
        found[KEY_RING] = ring
    if KEY in wanted:
        key = api.get(KMS + key_id(project, region, name))
        if key is not None:
            _require_label(f"kms key {key['name']}", key.get("labels") or {}, name,
                           "a key the kit did not create for this stack; it is never adopted. "
                           "Rename the deployment (name: in kit.yaml)")
            primary = (key.get("primary") or {}).get("state", "ENABLED")
            if primary != "ENABLED" and not purging:
                raise KitError(f"kms key {key['name']}: its primary version is {primary}: the "
                               f"kept buckets of {name} are encrypted with it",
                               hint="restore it (gcloud kms keys versions restore, then enable), "
                                    "or `kit down --purge` to start over")
            found[KEY] = key["name"]
    logs = f"projects/{project}/locations/{region}/buckets/{log_bucket_name(name)}"
    if LOG_BUCKET in wanted:
        bucket = api.get(LOGGING + logs)
        if bucket is not None and bucket.get("lifecycleState") == "DELETE_REQUESTED" and not purging:
            api.call("POST", LOGGING + logs + ":undelete")   # a purge was started: take it back
            bucket = {**bucket, "lifecycleState": "ACTIVE"}
        if bucket is not None and bucket.get("lifecycleState") == "ACTIVE":
            found[LOG_BUCKET] = logs
    return found


def purge_found(cfg: "KitConfig", found: dict[str, str], api: Api) -> list[str]:
    """Delete what `find` found; one line per deletion. The data bucket is never touched."""
    from kit.data.storage import parse_uri

    loc = parse_uri(cfg.data.uri)
    if loc.scheme == "gs" and loc.bucket in {found.get(p) for p in KIT_BUCKETS}:
        raise KitError(f"gs://{loc.bucket}: holds this deployment's data (data.uri) and is one of "
                       "the kit's own buckets; nothing was deleted",
                       hint="move the data to a bucket of your own, then run `kit down --purge` again")
    done = []
    for purpose in KIT_BUCKETS:
        if purpose in found:
            count = api.empty_and_delete_bucket(found[purpose])
            done.append(f"deleted bucket gs://{found[purpose]} ({count} object version(s))")
    if KEY in found:
        versions = api.get(KMS + found[KEY] + "/cryptoKeyVersions?filter=state%3DENABLED%20OR%20"
                           "state%3DDISABLED") or {}
        for version in versions.get("cryptoKeyVersions") or []:
            api.call("POST", KMS + version["name"] + ":destroy")
        done.append(f"scheduled the versions of kms key {found[KEY]} for destruction (30 days; "
                    "until then: gcloud kms keys versions restore)")
    if LOG_BUCKET in found:
        api.call("DELETE", LOGGING + found[LOG_BUCKET])
        done.append(f"deleted log bucket {found[LOG_BUCKET]} (the audit trail; --purge)")
    if KEY_RING in found:
        done.append(f"kept kms key ring {found[KEY_RING]} (Cloud KMS never deletes key rings)")
    return done


def _require_label(where: str, labels: dict[str, str], name: str, hint: str) -> None:
    value = labels.get(STACK_LABEL)
    if value != name:
        found = f"labelled {STACK_LABEL}={value}" if value else f"not labelled {STACK_LABEL}"
        raise KitError(f"{where}: exists but is {found}, not {STACK_LABEL}={name}", hint=hint)
