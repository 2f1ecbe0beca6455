"""The trainer's whole upload and resume path against a Cloud Storage endpoint that refuses any
overwrite and any delete (tests/data/gcs_guard.py: what the GCP trainer's roles allow, issue
24). A run killed while uploading a checkpoint resumes on a fresh pod from what the bucket
publishes, republishes metrics, checkpoints, the merged model and its summary, and succeeds
without replacing or deleting a single object; readers find the newest set."""

from __future__ import annotations

import json
import uuid

from kit.data import published, storage
from kit.data.sync import sync
from tests.data.conftest import BUCKET, gcs  # noqa: F401 - the session's GCS emulator
from tests.data.gcs_guard import Guard
from tests.data.test_sync import same_tree
from tests.trainer.helpers import read_until, run_trainer, start_trainer, write_spec

SLOW = {"method": "full", "packing": False, "batch_size": 2, "micro_batch_size": 2, "max_length": 128,
        "learning_rate": 3e-3, "eval_fraction": 0.1, "epochs": 2, "checkpoint_steps": 4}


def _spec(tmp_path, tiny_model, data_file, output, uri):
    spec = write_spec(tmp_path, tiny_model, data_file, output, SLOW, run_id=output.name)
    body = json.loads(spec.read_text())
    spec.write_text(json.dumps({**body, "run_id": "run-1", "upload_uri": uri}))
    return spec


def test_killed_upload_resumes_from_the_bucket_and_nothing_is_overwritten_or_deleted(
        tmp_path, tiny_model, data_file, gcs, monkeypatch):  # noqa: F811 - the fixture above
    for key, value in gcs.env.items():
        monkeypatch.setenv(key, value)
    guard = Guard(int(gcs.env["STORAGE_EMULATOR_HOST"].rsplit(":", 1)[1]))
    monkeypatch.setenv("STORAGE_EMULATOR_HOST", guard.url)
    monkeypatch.setenv("KIT_PART_SIZE", str(256 * 1024))  # weights go up as composite uploads
    uri = f"gs://{BUCKET}/runs/{uuid.uuid4().hex[:12]}/"
    try:
        proc = start_trainer(_spec(tmp_path, tiny_model, data_file, tmp_path / "pod1", uri))
        # checkpoint 8's event comes after checkpoint 4's upload returned: kill during the next
        read_until(proc, lambda e: e["event"] == "checkpoint" and e["step"] >= 8)
        proc.kill()
        proc.wait(timeout=60)
        store = storage.open_store(uri)
        first = published.read_manifest(store)
        assert first is not None and "checkpoints/checkpoint-4/trainer_state.json" in first.files
        assert published.read_file(store, "summary.json") is None

        pod = tmp_path / "pod2"   # the retried pod: a fresh disk, staged as stage-run does
        # (charts/finetune: only what a manifest publishes)
        sync(uri, str(pod), require_manifest=True)
        rerun = run_trainer(_spec(tmp_path, tiny_model, data_file, pod, uri))
        assert rerun.returncode == 0, rerun.stderr[-3000:]
        assert rerun.of("start")[0]["resumed_from_step"] >= 4

        refused = [r for r in guard.refused if r[2] == 403 and r[0] != "DELETE"]
        assert refused == []   # no write ever went to an existing name unconditionally
        # the trainer's composite uploads came through the guard: their parts' cleanup was refused
        assert any(r[0] == "DELETE" and ".kit-parts/" in r[1] for r in guard.refused)
        store = storage.open_store(uri)
        summary = json.loads(published.read_file(store, "summary.json"))
        assert summary["status"] == "succeeded" and summary["run_id"] == "run-1"
        newest = published.read_file(store, "metrics.jsonl")
        assert newest == (pod / "metrics.jsonl").read_bytes()
        assert store.read("metrics.jsonl") != newest   # its first name holds the first upload
        # what the server stages: the merged model, by its own manifest
        sync(f"{uri}model/", str(tmp_path / "served"), require_manifest=True)
        same_tree(pod / "model", tmp_path / "served")
    finally:
        guard.close()
