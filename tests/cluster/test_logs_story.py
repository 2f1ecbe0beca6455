"""`kit logs` on a cluster: the trainer pod's log (JSON event lines mixed with stderr) reads as
the same story as on the local target, through the same formatter, ending with the run's
record; --raw is the pod's log as written."""

from __future__ import annotations

import io
import time

from rich.console import Console

from kit.cluster.runs import FineTunes
from kit.cluster.status import ClusterStatus
from kit.data.storage import open_store
from kit.logview import story
from kit.pipeline import DeploymentState
from kit.runs import RUNNING, Run, RunStore
from tests.cluster.fakes import FakeCore, kube_for

NOISE = ["Traceback (most recent call last):", "BrokenPipeError: [Errno 32] Broken pipe",
         "Some weights of the model checkpoint were not used: missing keys lm_head.weight"]


def cluster_status(cfg, tmp_path, name: str, noise: list[str]):
    from tests.cluster.fakes import fixture

    jobs = [item["object"] for item in fixture(name)["stream"] if item["object"]["kind"] == "Job"]
    kube, fx = kube_for(name, extra=jobs[-1:])   # the Job as it ended: the run settles on it
    kube.core = FakeCore(noise + fx["logs"][:7] + noise + fx["logs"][7:])
    store = RunStore(tmp_path / "runs")
    store.save(Run(id=fx["run_id"], fingerprint="k", status=RUNNING, created=time.time(),
                   base_model="m", method="lora"))
    tunes = FineTunes(cfg, store, lambda: kube, lambda: None, Console(file=io.StringIO()),
                      storage=open_store)
    return ClusterStatus(cfg, DeploymentState(tmp_path / "state.json"), tunes, None,
                         lambda: kube, lambda: None), fx


def test_a_preempted_and_resumed_pod_log_reads_as_a_story_without_the_noise(k8s_cfg, tmp_path):
    status, fx = cluster_status(k8s_cfg, tmp_path, "preempted", NOISE)
    lines = list(story(status.log_lines(None, server=False, follow=False)))
    assert lines[0] == "started: lora on cuda x1, 1000 examples, 120 steps"
    assert lines[1] == ("step 10/120  epoch 1.25  loss 2.0000  lr 1.00e-05  5,120 tokens/s  "
                        "eta 16m30s")
    assert "checkpoint saved at step 50" in lines
    assert "started: lora on cuda x1, 1000 examples, 120 steps, resuming from step 50" in lines
    assert lines[-2] == "finished  loss 2.0000 -> 0.9000"
    assert lines[-1].endswith(f" run {fx['run_id']} succeeded")      # settled against its Job
    assert not any("Traceback" in line or "lm_head" in line for line in lines)


def test_raw_is_the_pod_log_as_written(k8s_cfg, tmp_path):
    status, fx = cluster_status(k8s_cfg, tmp_path, "preempted", NOISE)
    raw = list(status.log_lines(None, server=False, follow=False, raw=True))
    assert raw == NOISE + fx["logs"][:7] + NOISE + fx["logs"][7:]
