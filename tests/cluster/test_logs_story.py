"""`kit logs` on a cluster: the trainer pod's log (JSON event lines mixed with stderr) reads as
the same story as on the local target, through the same formatter, ending with the run's
record; --raw is the pod's log as written."""

from __future__ import annotations

import io
import time

from rich.console import Console

from kit.cluster.finetune_jobs import FineTuneJobs
from kit.cluster.status import ClusterStatus
from kit.data.storage import open_store
from kit.logview import story
from kit.pipeline import DeploymentState
from kit.pipeline.ledger import RUNNING, Run, RunStore
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
    tunes = FineTuneJobs(cfg, store, lambda: kube, lambda: None, Console(file=io.StringIO()),
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


class Pods:
    """A Job whose first pod is still starting, then is preempted, and whose second pod ends
    the run: what `kit logs -F` meets on a spot GPU."""

    def __init__(self) -> None:
        self.calls: list[str] = []
        self.logs = {"p1": ['{"event":"start","total_steps":4}', "a warning",
                            '{"event":"step","step":1,"total":4,"loss":2.0}'],
                     "p2": ['{"event":"start","total_steps":4,"resumed_from_step":1}',
                            '{"event":"step","step":4,"total":4,"loss":1.0}',
                            '{"event":"done","metrics":{}}']}
        self.store: RunStore | None = None

    def pod_of(self, run):
        self.calls.append("pod_of")
        if self.calls.count("pod_of") == 1:
            from kit.errors import KitError
            raise KitError("no pods yet")
        return "p1" if "p1 done" not in self.calls else "p2"

    def log_lines(self, pod, container, *, follow):
        self.calls.append(f"log {pod}")
        if self.calls.count("log p1") == 1:
            raise RuntimeError("container trainer is waiting to start: ContainerCreating")
        yield from self.logs[pod]
        self.calls.append(f"{pod} done")

    def reconcile(self, run):
        if "p2 done" in self.calls:
            run.status = "succeeded"
        return run


def test_follow_waits_for_the_pod_and_goes_on_to_the_next_one(k8s_cfg, tmp_path, monkeypatch):
    import kit.cluster.status as status_module

    monkeypatch.setattr(status_module, "FOLLOW_POLL_S", 0.0)
    pods = Pods()
    store = RunStore(tmp_path / "runs")
    store.save(Run(id="run-1", fingerprint="k", status=RUNNING, created=time.time(),
                   base_model="m", method="lora"))
    pods.store = store
    status = ClusterStatus(k8s_cfg, DeploymentState(tmp_path / "state.json"), pods, None,
                           lambda: pods, lambda: None)
    lines = list(story(status.log_lines(None, server=False, follow=True)))
    assert lines == ["started: training on ?, ? examples, 4 steps",
                     "step 1/4  loss 2.0000",
                     "started: training on ?, ? examples, 4 steps, resuming from step 1",
                     "step 4/4  loss 1.0000",
                     "finished",
                     "run run-1 succeeded"]
