"""Run records: a trainer that died never leaves a run that looks successful."""

from __future__ import annotations

import subprocess
import sys
import time

from kit.pipeline.ledger import INTERRUPTED, RUNNING, SUCCEEDED, Run, RunStore, fingerprint


def make_run(store: RunStore, pid: int | None, status: str = RUNNING) -> Run:
    run = Run(id=store.new_id(), fingerprint="fp", status=status, created=time.time(),
              base_model="m", method="lora", pid=pid)
    store.save(run)
    return run


def test_dead_running_run_is_marked_interrupted_durably(tmp_path):
    store = RunStore(tmp_path)
    proc = subprocess.Popen([sys.executable, "-c", "pass"])
    proc.wait()
    run = make_run(store, proc.pid)
    assert store.get(run.id).status == INTERRUPTED
    # the correction is written, not only reported
    assert '"interrupted"' in (tmp_path / run.id / "run.json").read_text()
    assert store.find("fp", SUCCEEDED) is None


def test_live_running_run_stays_running(tmp_path):
    store = RunStore(tmp_path)
    proc = subprocess.Popen([sys.executable, "-c", "import time; time.sleep(30)"])
    try:
        run = make_run(store, proc.pid)
        assert store.get(run.id).status == RUNNING
    finally:
        proc.kill()
        proc.wait()


def test_unknown_run_lists_known_ones(tmp_path):
    import pytest

    from kit.errors import KitError

    store = RunStore(tmp_path)
    known = make_run(store, None, status=SUCCEEDED)
    with pytest.raises(KitError) as info:
        store.get("run-nope")
    assert "run-nope" in info.value.message and known.id in info.value.hint


def test_fingerprint_is_order_independent_and_sensitive():
    a = fingerprint(data="d", model="m", training={"lr": 1, "epochs": 2})
    b = fingerprint(training={"epochs": 2, "lr": 1}, model="m", data="d")
    assert a == b
    assert a != fingerprint(data="d", model="m", training={"lr": 1, "epochs": 3})
