"""How a run recorded as running is reconciled: with its Job while the Job exists, with the
summary.json the trainer uploads last once the Job's TTL has deleted it; and a detached run
that finished is reused by the next `kit up`, its Job neither deleted nor applied again."""

from __future__ import annotations

import io
import json
import time

import pytest
from rich.console import Console

from kit.cluster.kube import Kube
from kit.cluster.target import ClusterTarget
from kit.data.storage import open_store
from kit.jsonio import write_json
from kit.pipeline.ledger import INTERRUPTED, RUNNING, SUCCEEDED, Run
from tests.cluster.deployment import HELD_OUT, finish, prepare, quiet
from tests.cluster.deployment import METRICS as PIPELINE_METRICS
from tests.cluster.deployment import target as pipeline_target
from tests.cluster.fakes import FakeCore, FakeDynamic, fake_deps, kube_for

JOB = "acme-notes-finetune"
METRICS = {"loss_first": 2.0, "loss_last": 0.9, "steps": 40, "eval": HELD_OUT}


@pytest.fixture
def artifacts(tmp_path):
    return tmp_path / "artifacts"


def target(cfg, kube, artifacts, opened: list | None = None) -> ClusterTarget:
    write_json(cfg.workdir.cluster_outputs, {
        "cloud": cfg.target, "cluster_name": "acme-notes", "namespace": "lima-kit",
        "artifacts_uri": f"file://{artifacts}", "models_uri": f"file://{artifacts}-models"})

    def storage(uri: str):
        if opened is not None:
            opened.append(uri)
        return open_store(uri)

    t = ClusterTarget(cfg, fake_deps(cfg, connect=lambda: kube, storage=storage))
    t._use(Console(file=io.StringIO(), width=200))
    return t


def write_summary(artifacts, run_id: str, status: str = "succeeded", metrics: dict = METRICS) -> None:
    folder = artifacts / "runs" / run_id
    folder.mkdir(parents=True, exist_ok=True)
    (folder / "summary.json").write_text(json.dumps({"status": status, "run_id": run_id,
                                                     "metrics": metrics}))


def running(run_id: str, key: str = "k") -> Run:
    return Run(id=run_id, fingerprint=key, status=RUNNING, created=time.time(),
               base_model="m", method="lora")


def job(run_id: str, status: dict) -> dict:
    return {"apiVersion": "batch/v1", "kind": "Job", "status": status,
            "metadata": {"name": JOB, "labels": {"lima-kit.io/run-id": run_id}}}


SUCCEEDED_STATUS = {"succeeded": 1, "conditions": [{"type": "Complete", "status": "True"}]}


@pytest.fixture
def deployment(aws_cfg, aws, monkeypatch):
    return prepare(aws_cfg, aws, monkeypatch)


def test_detached_run_that_succeeded_is_reused_by_the_next_up(deployment):
    kube, _ = kube_for("success", until=320)       # the trainer has started, no end yet
    dyn = kube.dyn
    result = pipeline_target(deployment, kube).up(quiet(), detach=True)
    run_id = result["run_id"]
    assert [c[:3] for c in dyn.calls] == [("apply", "Job", JOB)]
    assert pipeline_target(deployment, kube).store.get(run_id).status == RUNNING

    finish(kube, run_id)                                       # it trains to the end, alone
    calls = list(dyn.calls)
    again = pipeline_target(deployment, kube)                  # the next `kit up`
    assert again.up(quiet(), detach=True)["run_id"] == run_id
    assert dyn.calls == calls                                  # nothing deleted, nothing applied
    saved = again.store.get(run_id)
    assert saved.status == SUCCEEDED and saved.metrics == PIPELINE_METRICS and saved.exit_code == 0
    assert saved.eval == {**HELD_OUT, "passed": True, "max_loss_ratio": 1.0}
    fine_tune = again.status()["phases"]["fine-tune"]
    assert fine_tune["status"] == "skipped" and fine_tune["detail"].startswith(f"reusing run {run_id}")


def worse_detached_run(cfg):
    """A run started detached whose Job then succeeded with a held-out loss above its base's."""
    kube, _ = kube_for("success", until=320)
    run_id = pipeline_target(cfg, kube).up(quiet(), detach=True)["run_id"]
    finish(kube, run_id, {**PIPELINE_METRICS, "eval": {**HELD_OUT, "tuned_loss": 2.5}})
    return kube, run_id


def test_a_cluster_run_worse_than_its_base_is_rejected_and_not_served(deployment):
    """The gate on a cluster: the numbers come from the Job's trainer (summary.json); a run that
    did worse on held-out examples is recorded rejected and the serve phase never runs."""
    from kit.errors import KitError
    from kit.pipeline.ledger import REJECTED

    kube, run_id = worse_detached_run(deployment)
    again = pipeline_target(deployment, kube)
    again.state.update(served_run="run-before")
    with pytest.raises(KitError, match=rf"run {run_id} rejected by the evaluation gate: held-out loss "
                                       r"2.5000 > eval.max_loss_ratio 1 x base model's 2.1000; "
                                       r"the endpoint keeps serving run run-before"):
        again.up(quiet())
    saved = again.store.get(run_id)
    assert saved.status == REJECTED and saved.eval["passed"] is False
    phases = again.status()["phases"]
    assert phases["fine-tune"]["status"] == "failed" and phases["serve"]["status"] == "pending"


def test_launch_keeps_this_runs_succeeded_job_and_records_it(k8s_cfg, artifacts, monkeypatch):
    monkeypatch.setattr("kit.render.render_objects", lambda *a, **kw: pytest.fail("re-applied"))
    dyn = FakeDynamic([job("run-a", SUCCEEDED_STATUS)])
    t = target(k8s_cfg, Kube(dyn, FakeCore(), "lima-kit"), artifacts)
    write_summary(artifacts, "run-a")
    run = running("run-a")
    t.store.save(run)
    t.jobs.launch(run)
    assert dyn.calls == []
    assert run.status == SUCCEEDED and t.store.get("run-a").metrics == METRICS


def test_job_gone_and_summary_succeeded_means_succeeded(k8s_cfg, artifacts):
    opened: list[str] = []
    t = target(k8s_cfg, Kube(FakeDynamic(), FakeCore(), "lima-kit"), artifacts, opened)
    t.store.save(running("run-a"))
    write_summary(artifacts, "run-a")
    [shown] = t.runs()
    assert shown["status"] == SUCCEEDED and shown["metrics"] == METRICS
    assert shown["artifacts"]["model"].endswith("/runs/run-a/model/")
    assert opened == [f"file://{artifacts}/runs/run-a/"]
    assert t.store.get("run-a").status == SUCCEEDED


@pytest.mark.parametrize("summary", [None, "failed"])
def test_job_gone_without_a_successful_summary_means_interrupted(k8s_cfg, artifacts, summary):
    t = target(k8s_cfg, Kube(FakeDynamic(), FakeCore(), "lima-kit"), artifacts)
    t.store.save(running("run-a"))
    if summary:
        write_summary(artifacts, "run-a", summary)
    settled = t.jobs.reconcile(t.store.get("run-a"))
    assert settled.status == INTERRUPTED and "no summary" in settled.reason
    assert t.store.get("run-a").status == INTERRUPTED


def test_an_unreachable_bucket_leaves_the_record_running(k8s_cfg, artifacts):
    def down(uri):
        raise ConnectionError("bucket unreachable")

    t = target(k8s_cfg, Kube(FakeDynamic(), FakeCore(), "lima-kit"), artifacts)
    t.jobs.storage = down
    t.store.save(running("run-a"))
    assert t.jobs.reconcile(t.store.get("run-a")).status == RUNNING
    assert t.store.get("run-a").status == RUNNING


def test_a_detached_run_meets_the_gate_when_it_is_reconciled(deployment):
    """`kit train --detach` then `kit serve --run`: recording the run's end judges it, so a run
    worse than its base is rejected before anything could serve it."""
    from kit.errors import KitError
    from kit.pipeline.ledger import REJECTED

    kube, run_id = worse_detached_run(deployment)
    later = pipeline_target(deployment, kube)
    assert later.jobs.reconcile(later.store.get(run_id)).status == REJECTED
    with pytest.raises(KitError, match=f"run {run_id} was rejected by the evaluation gate"):
        later.serve(quiet(), run_id)
