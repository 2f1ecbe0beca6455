"""`kit train` then `kit up` on a cluster: the second finds the first's run (issue 25).

Both commands run the same pipeline (kit.pipeline.flow) through ClusterTarget whole, on the
deployment of tests/cluster/deployment.py. `kit train` used to skip the mirror phase and key its
run on the configured revision ("main") while `kit up` keyed on the commit the mirror recorded,
so `kit up` trained again (or reused an older run)."""

from __future__ import annotations

import json

import pytest

from kit import __version__
from kit.pipeline.ledger import RUNNING, SUCCEEDED, RunStore
from kit.trainer.recipe import resolve
from tests.cluster.deployment import COMMIT, JOB, finish, job_applies, prepare, quiet, target
from tests.cluster.fakes import kube_for

pytestmark = pytest.mark.timeout(120)     # a second Job would be followed until the timeout


@pytest.fixture
def deployment(aws_cfg, aws, monkeypatch):
    return prepare(aws_cfg, aws, monkeypatch)


def test_kit_up_after_kit_train_reuses_that_run(deployment):
    kube, _ = kube_for("success", until=320)            # the trainer has started, no end yet
    trained = target(deployment, kube).train(quiet(), detach=True)
    assert trained.status == RUNNING and trained.inputs["model_revision"] == COMMIT
    # The record every target writes: settings as the recipe resolves them, the kit's version.
    assert trained.inputs["settings"] == resolve(deployment.training.model_dump())
    assert trained.inputs["kit_version"] == __version__
    assert len(job_applies(kube)) == 1
    finish(kube, trained.id)

    result = target(deployment, kube).up(quiet(), detach=True)     # a later `kit up`, new process
    assert result["run_id"] == trained.id
    assert len(job_applies(kube)) == 1                  # no second Job
    runs = RunStore(deployment.workdir.runs).list()
    assert [(r.id, r.status) for r in runs] == [(trained.id, SUCCEEDED)]
    assert runs[0].eval["passed"] is True               # judged when its end was recorded
    phases = json.loads(deployment.workdir.state.read_text())["phases"]
    assert phases["fine-tune"]["status"] == "skipped"
    assert phases["fine-tune"]["detail"].startswith(f"reusing run {trained.id}")


def test_kit_train_followed_to_its_end_is_found_by_kit_up(deployment, monkeypatch):
    """The same without --detach: `kit train` follows the recorded Job to its end (the run
    takes the recorded run's id, so the Job's pods and log are that run's)."""
    kube, fx = kube_for("success")
    monkeypatch.setattr(RunStore, "new_id", lambda self: fx["run_id"])
    trained = target(deployment, kube).train(quiet())
    assert trained.status == SUCCEEDED and trained.metrics["loss_last"] == 0.9
    assert trained.inputs["model_revision"] == COMMIT

    result = target(deployment, kube).up(quiet(), detach=True)
    assert result["run_id"] == trained.id and len(job_applies(kube)) == 1


FAILED_STATUS = {"failed": 1, "conditions": [{"type": "Failed", "status": "True",
                                              "reason": "BackoffLimitExceeded"}]}


@pytest.mark.parametrize("bad_data", [False, True])
def test_kit_up_resumes_a_failed_run_unless_its_data_was_bad(deployment, bad_data):
    """An earlier attempt at the same work that failed is started again under its own id (its
    Job resumes from the checkpoints it uploaded); one that stopped on bad data is not: the
    same inputs cannot succeed, so a new run starts."""
    from kit.pipeline.ledger import FAILED
    from kit.trainer.events import EXIT_BAD_DATA

    kube, _ = kube_for("success", until=320)
    first = target(deployment, kube).up(quiet(), detach=True)["run_id"]
    kube.dyn.objects[("Job", JOB)]["status"] = FAILED_STATUS
    store = RunStore(deployment.workdir.runs)
    failed = target(deployment, kube).jobs.reconcile(store.get(first))
    assert failed.status == FAILED
    if bad_data:
        failed.exit_code = EXIT_BAD_DATA
        store.save(failed)

    kube.dyn.streams = kube_for("success", until=320)[0].dyn.streams   # the next Job's pods
    again = target(deployment, kube).up(quiet(), detach=True)["run_id"]
    assert (again != first) == bad_data
    assert len(job_applies(kube)) == 2          # the failed Job replaced either way
    assert store.get(again).status == RUNNING
