"""What talks to Google outside the Pulumi program, through a fake of the calls it makes:
adopting and purging what a plain `kit down` kept, the leak report, `kit doctor`'s checks,
and the kubeconfig's token (`kit cluster-token gcp`)."""

from __future__ import annotations

import json
from datetime import datetime
from typing import Any

import pytest

from kit.errors import KitError
from stacks.gcp import kept, leaks, preflight
from stacks.gcp.names import kit_bucket_name
from tests.stacks.gcp.conftest import make_cfg

RING = "projects/acme-ml-prod/locations/us-central1/keyRings/lima-kit-acme-notes"
KEY = f"{RING}/cryptoKeys/kit"
LOGS = "projects/acme-ml-prod/locations/us-central1/buckets/lima-kit-acme-notes"
OURS = {"lima-kit-stack": "acme-notes"}


class FakeGoogle:
    """Buckets by name (labels) and REST resources by URL, as kept.Api sees them."""

    def __init__(self, buckets: dict[str, dict] | None = None, rest: dict[str, dict] | None = None):
        self.buckets = dict(buckets or {})
        self.rest = dict(rest or {})
        self.calls: list[tuple[str, str]] = []

    def bucket_labels(self, name: str) -> dict[str, str] | None:
        return self.buckets.get(name)

    def empty_and_delete_bucket(self, name: str) -> int:
        self.calls.append(("delete-bucket", name))
        del self.buckets[name]
        return 3

    def get(self, url: str) -> dict[str, Any] | None:
        return self.rest.get(url.split("?")[0])

    def call(self, method: str, url: str) -> dict[str, Any]:
        self.calls.append((method, url))
        return {}


def _kept_everything() -> FakeGoogle:
    return FakeGoogle(
        buckets={kit_bucket_name("acme-notes", p, "acme-ml-prod"): dict(OURS) for p in ("artifacts", "models")},
        rest={kept.KMS + RING: {"name": RING},
              kept.KMS + KEY: {"name": KEY, "labels": dict(OURS), "primary": {"state": "ENABLED"}},
              kept.KMS + KEY + "/cryptoKeyVersions": {"cryptoKeyVersions": [{"name": f"{KEY}/cryptoKeyVersions/1"}]},
              kept.LOGGING + LOGS: {"name": LOGS, "lifecycleState": "ACTIVE"}})


def test_finds_everything_a_plain_down_kept():
    found = kept.find(make_cfg(), set(kept.TYPES), _kept_everything())
    assert found == {"artifacts": kit_bucket_name("acme-notes", "artifacts", "acme-ml-prod"),
                     "models": kit_bucket_name("acme-notes", "models", "acme-ml-prod"),
                     "key-ring": RING, "key": KEY, "log-bucket": LOGS}


def test_only_what_the_state_does_not_hold_is_looked_up():
    held = {"resources": [{"urn": "urn:pulumi:acme-notes::lima-kit::gcp:storage/bucket:Bucket::artifacts",
                           "type": "gcp:storage/bucket:Bucket"}]}
    assert kept.managed(held) == {"artifacts"}


def test_a_bucket_of_another_stack_is_refused():
    api = _kept_everything()
    api.buckets[kit_bucket_name("acme-notes", "models", "acme-ml-prod")] = {"lima-kit-stack": "other"}
    with pytest.raises(KitError, match="exists but is labelled lima-kit-stack=other, not lima-kit-stack=acme-notes"):
        kept.find(make_cfg(), set(kept.TYPES), api)


def test_a_kept_key_that_cannot_decrypt_stops_adoption_but_not_purge():
    api = _kept_everything()
    api.rest[kept.KMS + KEY]["primary"] = {"state": "DESTROY_SCHEDULED"}
    with pytest.raises(KitError, match="its primary version is DESTROY_SCHEDULED"):
        kept.find(make_cfg(), {"key"}, api)
    assert kept.find(make_cfg(), {"key"}, api, purging=True) == {"key": KEY}


def test_a_log_bucket_pending_deletion_is_taken_back():
    api = _kept_everything()
    api.rest[kept.LOGGING + LOGS]["lifecycleState"] = "DELETE_REQUESTED"
    assert kept.find(make_cfg(), {"log-bucket"}, api) == {"log-bucket": LOGS}
    assert api.calls == [("POST", kept.LOGGING + LOGS + ":undelete")]


def test_purge_deletes_what_was_kept_and_keeps_the_ring():
    api = _kept_everything()
    cfg = make_cfg()
    lines = kept.purge_found(cfg, kept.find(cfg, set(kept.TYPES), api, purging=True), api)
    assert not api.buckets
    assert ("POST", kept.KMS + f"{KEY}/cryptoKeyVersions/1:destroy") in api.calls
    assert ("DELETE", kept.LOGGING + LOGS) in api.calls
    assert lines[-1] == f"kept kms key ring {RING} (Cloud KMS never deletes key rings)"
    assert len(lines) == 5


def test_purge_never_deletes_the_data_bucket():
    artifacts = kit_bucket_name("acme-notes", "artifacts", "acme-ml-prod")
    cfg = make_cfg(data={"uri": f"gs://{artifacts}/sft/"})
    api = _kept_everything()
    with pytest.raises(KitError, match="holds this deployment's data"):
        kept.purge_found(cfg, {"artifacts": artifacts}, api)
    assert artifacts in api.buckets


def test_leak_report_lists_kept_and_left_resources_with_their_fix():
    disk = {"name": "//compute.googleapis.com/projects/acme-ml-prod/zones/us-central1-b/disks/pvc-1",
            "assetType": "compute.googleapis.com/Disk", "location": "us-central1-b"}
    bucket = {"name": "//storage.googleapis.com/acme-notes-models-x", "assetType": "storage.googleapis.com/Bucket"}

    class Assets:
        def get(self, url: str) -> dict:
            return {"results": [bucket, disk] if "goog-k8s" not in url else [disk]}

    lines = leaks.leak_report(Assets(), "acme-ml-prod", "acme-notes", "acme-notes", purge=False)
    assert lines[0].startswith("kept (the kit's data, key or audit trail")
    assert "gcloud compute disks delete pvc-1 --zone us-central1-b" in lines[1]
    assert lines[2].startswith("Cloud Asset Inventory lags deletions")
    assert len(lines) == 3


@pytest.mark.parametrize(("spot", "limit", "usage", "ok"), [
    (False, 16, 0, True), (False, 16, 4, False), (True, 16, 0, True), (True, 8, 0, False)])
def test_gpu_quota_against_a_full_pool(spot, limit, usage, ok):
    cfg = make_cfg(gpu={"spot": spot})      # 2 nodes x 8 H100 = 16 GPUs
    metric = ("PREEMPTIBLE_" if spot else "") + "NVIDIA_H100_GPUS"
    quotas = [{"metric": "NVIDIA_H100_GPUS", "limit": 16, "usage": 0},
              {"metric": "PREEMPTIBLE_NVIDIA_H100_GPUS", "limit": 16, "usage": 0}]
    quotas = [q if q["metric"] != metric else {**q, "limit": limit, "usage": usage} for q in quotas]
    check = preflight.quota_check(cfg, quotas)
    assert check.ok is ok and metric in check.detail
    if not ok:
        assert check.fix.startswith(f"request {metric} >= {16 + usage}")


def test_apis_not_enabled_are_named_with_the_command():
    cfg = make_cfg()
    enabled = {f"{a}.googleapis.com" for a in (*preflight.APIS, "accesscontextmanager")
               if a not in ("container", "cloudkms")}
    check = preflight.api_check(cfg, enabled)
    assert not check.ok and check.detail == "not enabled: container.googleapis.com, cloudkms.googleapis.com"
    assert check.fix == ("gcloud services enable container.googleapis.com cloudkms.googleapis.com "
                         "--project acme-ml-prod")
    assert preflight.api_check(cfg, enabled | {"container.googleapis.com", "cloudkms.googleapis.com"}).ok


def test_a_former_docker_hub_login_option_is_refused_in_one_line():
    """The registry has no remote repository to log in with any more (stacks/gcp/registry.py):
    the option is gone, not silently ignored."""
    with pytest.raises(KitError, match="docker_hub_username"):
        make_cfg(gcp={"docker_hub_username": "acme"})


@pytest.mark.parametrize(("uniform", "ok", "fix"), [
    (True, True, None), (None, False, "check data.uri in kit.yaml"),
    (False, False, "gcloud storage buckets update gs://acme-clinical-notes --uniform-bucket-level-access")])
def test_the_data_bucket_needs_uniform_access_for_the_prefix_grant(uniform, ok, fix):
    check = preflight.access_check("acme-clinical-notes", uniform)
    assert check.ok is ok and (check.fix if not ok else None) == fix


def test_cluster_token_prints_an_exec_credential(monkeypatch):
    import google.auth

    from kit.cluster.credential import exec_credential

    class Creds:
        token, expiry = None, None

        def refresh(self, _request):
            self.token, self.expiry = "ya29.fresh", datetime(2026, 11, 29, 9, 30)

    monkeypatch.setattr(google.auth, "default", lambda scopes: (Creds(), "acme-ml-prod"))
    out = json.loads(exec_credential("gcp"))
    assert out == {"apiVersion": "client.authentication.k8s.io/v1beta1", "kind": "ExecCredential",
                   "status": {"token": "ya29.fresh", "expirationTimestamp": "2026-11-29T09:30:00Z"}}


def test_without_credentials_the_token_is_a_one_line_error(monkeypatch):
    import google.auth
    import google.auth.exceptions

    from stacks.gcp.token import token

    def none(scopes):
        raise google.auth.exceptions.DefaultCredentialsError("Your default credentials were not found.")

    monkeypatch.setattr(google.auth, "default", none)
    with pytest.raises(KitError) as err:
        token()
    assert err.value.one_line() == ("gcp: no usable application-default credentials: Your default "
                                    "credentials were not found. (hint: gcloud auth application-default login)")


def test_the_kubeconfig_runs_this_very_kit():
    import sys

    from kit.cluster.credential import with_own_exec
    from stacks.contract import exec_user

    config = {"users": [{"name": "a", "user": exec_user("gcp")}, {"name": "b", "user": {"token": "t"}}]}
    users = with_own_exec(config)["users"]
    assert users[0]["user"]["exec"]["command"] == sys.executable
    assert users[0]["user"]["exec"]["args"] == ["-m", "kit", "cluster-token", "gcp"]
    assert users[1] == {"name": "b", "user": {"token": "t"}}
