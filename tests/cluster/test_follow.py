"""Following a fine-tune Job end to end through kit.cluster.kube (real watch/log plumbing over a fake
DynamicClient and CoreV1Api that replay the fixtures) and the run record it leaves."""

from __future__ import annotations

import io
import time

import pytest
from rich.console import Console

from kit.cluster.finetune_jobs import FineTuneJobs
from kit.cluster.follow import follow_job
from kit.cluster.jobwatch import JobWatch, TrainerLog
from kit.data.storage import open_store
from kit.errors import KitError
from kit.pipeline.ledger import FAILED, RUNNING, SUCCEEDED, Run, RunStore
from tests.cluster.fakes import kube_for


def run_record(fx) -> Run:
    return Run(id=fx["run_id"], fingerprint="k", status=RUNNING, created=time.time(),
               base_model="m", method="lora")


def tunes(cfg, kube, tmp_path):
    out = io.StringIO()
    return FineTuneJobs(cfg, RunStore(tmp_path / "runs"), lambda: kube, lambda: None,
                        Console(file=out, width=200), storage=open_store), out


@pytest.mark.parametrize("name,phase", [("success", "succeeded"), ("preempted", "succeeded"),
                                        ("oomkilled", "failed"), ("deadline", "failed")])
def test_follow_job_runs_to_the_end_of_the_job(name, phase):
    # The replayed watch ends before a log stream opens, so this checks the verdict only; the
    # trainer's log is read by FineTuneJobs.follow (below) once the Job has ended.
    kube, fx = kube_for(name)
    watch, log, events, notes = JobWatch(fx["job"]), TrainerLog(), [], []
    follow_job(kube, watch, log, fx["run_id"], on_note=notes.append, on_progress=events.append,
               tick_s=0.05)
    assert watch.finished and watch.phase == phase


def test_a_successful_run_is_recorded_with_its_metrics(k8s_cfg, tmp_path):
    kube, fx = kube_for("success")
    ft, out = tunes(k8s_cfg, kube, tmp_path)
    outcome = ft.follow(run_record(fx), detach=False)
    assert "succeeded: loss 2.000 → 0.900" in outcome.detail
    saved = ft.store.get(fx["run_id"])
    assert saved.status == SUCCEEDED and saved.metrics["loss_last"] == 0.9


@pytest.mark.parametrize("name,cause,text", [
    ("oomkilled", "oom-killed", "12Gi"),
    ("deadline", "deadline", "3600s"),
    ("image_pull", "image-pull", "images lock"),
    ("unschedulable", "unschedulable", "device plugin"),
])
def test_a_failed_run_says_why_with_the_pods_last_lines_and_events(k8s_cfg, tmp_path, name, cause, text):
    kube, fx = kube_for(name)
    ft, out = tunes(k8s_cfg, kube, tmp_path)
    with pytest.raises(KitError) as err:
        ft.follow(run_record(fx), detach=False)
    assert f"({cause})" in err.value.message and text in err.value.hint
    saved = ft.store.get(fx["run_id"])
    assert saved.status == FAILED and saved.reason.startswith(cause)
    shown = out.getvalue()
    assert "recent events" in shown
    stuck = name in ("image_pull", "unschedulable")      # the Job never ended by itself
    assert (("patch", "Job", fx["job"], {"spec": {"suspend": True}}) in kube.dyn.calls) == stuck
    if name == "oomkilled":
        assert "last log lines" in shown


def test_detach_returns_once_the_trainer_runs(k8s_cfg, tmp_path):
    kube, fx = kube_for("success", until=320)      # the trainer has started, no end yet
    ft, _ = tunes(k8s_cfg, kube, tmp_path)
    outcome = ft.follow(run_record(fx), detach=True)
    assert "detached" in outcome.detail


def test_a_new_run_replaces_a_finished_job_but_never_a_running_one(k8s_cfg, tmp_path, monkeypatch):
    from kit.cluster.kube import Kube
    from tests.cluster.fakes import FakeCore, FakeDynamic

    monkeypatch.setattr("kit.render.render_objects", lambda cfg, cluster, run_id: {
        "finetune": [{"apiVersion": "batch/v1", "kind": "Job",
                      "metadata": {"name": "acme-notes-finetune", "labels": {"lima-kit.io/run-id": run_id}}}]})
    monkeypatch.setattr("time.sleep", lambda _s: None)
    old = {"apiVersion": "batch/v1", "kind": "Job", "status": {"active": 1},
           "metadata": {"name": "acme-notes-finetune", "labels": {"lima-kit.io/run-id": "run-old"}}}
    dyn = FakeDynamic([old])
    ft, _ = tunes(k8s_cfg, Kube(dyn, FakeCore(), "lima-kit"), tmp_path)
    new = Run(id="run-new", fingerprint="k", status=RUNNING, created=1.0, base_model="m", method="lora")
    with pytest.raises(KitError, match="run-old is still training"):
        ft.launch(new)
    old["status"] = {"succeeded": 1}
    ft.launch(new)
    assert [c[:3] for c in dyn.calls] == [("delete", "Job", "acme-notes-finetune"),
                                          ("apply", "Job", "acme-notes-finetune")]
    assert dyn.calls[1][3:] == ("lima-kit", False)        # server-side apply as lima-kit, not forced
    assert ft.store.get("run-new").status == RUNNING
