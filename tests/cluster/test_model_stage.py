"""Staging the server's model on a cluster with volume snapshots (kit.cluster.model_stage):
a Job with the storage identity copies the run's model onto a volume, the volume is
snapshotted only once the Job has succeeded, and the Job and the volume go; the server's pods
restore from the snapshot and read no bucket."""

from __future__ import annotations

import io
import json

import pytest
from rich.console import Console

from kit.cluster.kube import Kube
from kit.cluster.model_stage import ModelStage
from kit.errors import KitError
from kit.render import cluster_for, render_objects
from tests.charts.chartkit import TEST_IMAGES
from tests.cluster.conftest import K8S, make
from tests.cluster.fakes import FakeCore, FakeDynamic

SNAPSHOTS = {"kubernetes": {"context": "onprem-gpu", "storage_class": "gp3",
                            "snapshot_class": "csi-snapclass"}}


class Cluster(FakeDynamic):
    """Jobs end as `job_ends` says once applied; snapshots become ready (or fail)."""

    def __init__(self, *, job_ends: str = "Complete", snapshot_error: str | None = None) -> None:
        super().__init__()
        self.job_ends, self.snapshot_error = job_ends, snapshot_error

    def server_side_apply(self, res, body=None, **kw):
        super().server_side_apply(res, body=body, **kw)
        stored = self.objects[(res.kind, body["metadata"]["name"])]
        if res.kind == "Job":
            stored["status"] = {"conditions": [{"type": self.job_ends, "status": "True",
                                                "reason": "BackoffLimitExceeded",
                                                "message": "Job has reached the specified backoff limit"}]}
        if res.kind == "VolumeSnapshot":
            stored["status"] = ({"readyToUse": False, "error": {"message": self.snapshot_error}}
                                if self.snapshot_error else {"readyToUse": True})


@pytest.fixture
def cfg(tmp_path):
    config = make(K8S, tmp_path, **SNAPSHOTS)
    config.workdir.root.mkdir(parents=True)
    config.workdir.images_lock.write_text(json.dumps(TEST_IMAGES))
    return config


def stage(cfg, dyn) -> ModelStage:
    kube = Kube(dyn, FakeCore(), "lima-kit")
    return ModelStage(cfg, lambda: kube, lambda: cluster_for(cfg), Console(file=io.StringIO()))


def test_stage_then_snapshot_then_clean_up(cfg):
    dyn = Cluster()
    assert stage(cfg, dyn).ensure("ft-1") == "acme-notes-model-ft-1"
    calls = [c[:3] for c in dyn.calls]
    assert calls.index(("apply", "Job", "acme-notes-stage-969d688874")) < calls.index(
        ("apply", "VolumeSnapshot", "acme-notes-model-ft-1"))
    assert calls[-3:-1] == [("delete", "Job", "acme-notes-stage-969d688874"),
                          ("delete", "PersistentVolumeClaim", "acme-notes-stage-969d688874")]
    snapshot = dyn.objects[("VolumeSnapshot", "acme-notes-model-ft-1")]
    assert snapshot["spec"] == {"volumeSnapshotClassName": "csi-snapclass",
                                "source": {"persistentVolumeClaimName": "acme-notes-stage-969d688874"}}
    assert ("Job", "acme-notes-stage-969d688874") not in dyn.objects      # gone once the snapshot is ready
    assert calls[-1][:2] == ("delete", "NetworkPolicy")          # the stage Job's own, too
    assert ("PersistentVolumeClaim", "acme-notes-stage-969d688874") not in dyn.objects


def test_a_ready_snapshot_is_reused(cfg):
    dyn = Cluster()
    stage(cfg, dyn).ensure("ft-1")
    dyn.calls.clear()
    assert stage(cfg, dyn).ensure("ft-1") == "acme-notes-model-ft-1"
    assert dyn.calls == []


def test_a_failed_staging_is_one_line_and_takes_no_snapshot(cfg):
    dyn = Cluster(job_ends="Failed")
    with pytest.raises(KitError, match=r"staging the model failed: Job acme-notes-stage-969d688874: "
                                       r"BackoffLimitExceeded") as err:
        stage(cfg, dyn).ensure("ft-1")
    assert "logs job/acme-notes-stage-969d688874" in err.value.hint
    assert not any(c[1] == "VolumeSnapshot" for c in dyn.calls)


def test_a_failed_snapshot_says_why(cfg, monkeypatch):
    """The controller's error is waited out (it retries conflicts), then named."""
    import kit.cluster.model_stage as model_stage

    monkeypatch.setattr(model_stage, "SNAPSHOT_TIMEOUT_S", 0.2)
    monkeypatch.setattr(model_stage, "POLL_S", 0.05)
    dyn = Cluster(snapshot_error="Failed to create snapshot: KMS key disabled")
    with pytest.raises(KitError, match="VolumeSnapshot acme-notes-model-ft-1 failed: Failed to "
                                       "create snapshot: KMS key disabled"):
        stage(cfg, dyn).ensure("ft-1")


def test_the_server_reads_no_bucket_and_the_stage_job_does(cfg):
    releases = render_objects(cfg, cluster_for(cfg), run_id="ft-1", images=TEST_IMAGES)
    deploy = next(o for o in releases["server"] if o["kind"] == "Deployment")
    pod = deploy["spec"]["template"]
    assert "lima-kit.io/storage-egress" not in pod["metadata"]["labels"]
    assert "initContainers" not in pod["spec"]
    assert pod["spec"]["serviceAccountName"] == "acme-notes-engine"
    (model,) = [v for v in pod["spec"]["volumes"] if v["name"] == "model"]
    claim = model["ephemeral"]["volumeClaimTemplate"]["spec"]
    assert claim["dataSource"] == {"apiGroup": "snapshot.storage.k8s.io", "kind": "VolumeSnapshot",
                                   "name": "acme-notes-model-ft-1"}
    assert claim["storageClassName"] == "gp3"
    job = next(o for o in releases["stage"] if o["kind"] == "Job")
    assert job["spec"]["template"]["metadata"]["labels"]["lima-kit.io/storage-egress"] == "true"
    assert job["spec"]["template"]["spec"]["serviceAccountName"] == "acme-notes-server"


def test_without_snapshot_classes_the_server_stages_itself(tmp_path):
    cfg = make(K8S, tmp_path)
    releases = render_objects(cfg, cluster_for(cfg), run_id="ft-1", images=TEST_IMAGES)
    assert "stage" not in releases
    deploy = next(o for o in releases["server"] if o["kind"] == "Deployment")
    assert deploy["spec"]["template"]["metadata"]["labels"]["lima-kit.io/storage-egress"] == "true"


def test_storage_class_without_snapshot_class_is_refused(tmp_path):
    with pytest.raises(KitError, match="kubernetes: snapshot_class is needed too"):
        make(K8S, tmp_path, kubernetes={"storage_class": "gp3"})


def classes(provisioner: str = "ebs.csi.aws.com", driver: str = "ebs.csi.aws.com") -> list[dict]:
    return [{"apiVersion": "storage.k8s.io/v1", "kind": "StorageClass",
             "metadata": {"name": "gp3"}, "provisioner": provisioner},
            {"apiVersion": "snapshot.storage.k8s.io/v1", "kind": "VolumeSnapshotClass",
             "metadata": {"name": "csi-snapclass"}, "driver": driver}]


@pytest.mark.parametrize(("objects", "ok", "detail"), [
    (classes(), True, "gp3 volumes, snapshots by csi-snapclass (ebs.csi.aws.com)"),
    (classes()[:1], False, "kubernetes.snapshot_class: no 'csi-snapclass' on this cluster"),
    (classes(driver="pd.csi.storage.gke.io"), False,
     "kubernetes.snapshot_class: 'csi-snapclass' is for pd.csi.storage.gke.io"),
])
def test_doctor_checks_the_named_classes(cfg, monkeypatch, objects, ok, detail):
    from kit.cluster import preflight

    kube = Kube(FakeDynamic(objects), FakeCore(), "lima-kit")
    monkeypatch.setattr("kit.cluster.kube.connect_deployment", lambda _cfg: kube)
    check = preflight.model_volumes(cfg)
    assert (check.ok, check.detail.startswith(detail)) == (ok, True), check.detail


def test_doctor_says_where_the_model_is_staged_without_snapshot_classes(tmp_path):
    from kit.cluster import preflight

    check = preflight.model_volumes(make(K8S, tmp_path))
    assert check.ok and "staged inside the server's pod" in check.detail


def test_staging_again_after_a_failure_replaces_the_failed_job(cfg):
    dyn = Cluster(job_ends="Failed")
    with pytest.raises(KitError):
        stage(cfg, dyn).ensure("ft-1")
    dyn.job_ends = "Complete"                    # the cause fixed: `kit up` again
    dyn.calls.clear()
    assert stage(cfg, dyn).ensure("ft-1") == "acme-notes-model-ft-1"
    calls = [c[:3] for c in dyn.calls]
    assert calls.index(("delete", "Job", "acme-notes-stage-969d688874")) < calls.index(
        ("apply", "Job", "acme-notes-stage-969d688874"))


def test_a_ready_snapshot_with_a_stale_error_is_used(cfg):
    dyn = Cluster()
    stage(cfg, dyn).ensure("ft-1")
    dyn.objects[("VolumeSnapshot", "acme-notes-model-ft-1")]["status"]["error"] = {
        "message": "the object has been modified; please apply your changes to the latest version"}
    dyn.calls.clear()
    assert stage(cfg, dyn).ensure("ft-1") == "acme-notes-model-ft-1" and dyn.calls == []
