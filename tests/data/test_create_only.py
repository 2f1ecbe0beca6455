"""Create-only publishing against a GCS endpoint that refuses any overwrite and any delete
(tests/data/gcs_guard.py: what the GCP trainer's roles allow). A run folder is published,
republished with changed files, interrupted mid-upload and resumed; every upload succeeds, no
object is ever replaced, and readers find the newest set by listing its manifests."""

from __future__ import annotations

import json
import os
from pathlib import Path

import pytest

from kit.data import published, storage
from kit.data.sync import sync
from kit.errors import KitError
from tests.data.conftest import BUCKET
from tests.data.gcs_guard import Guard
from tests.data.test_sync import PART, same_tree, sync_killed_after_two_parts


@pytest.fixture
def guarded(gcs, monkeypatch):
    for key, value in gcs.env.items():
        monkeypatch.setenv(key, value)
    guard = Guard(int(gcs.env["STORAGE_EMULATOR_HOST"].rsplit(":", 1)[1]))
    monkeypatch.setenv("STORAGE_EMULATOR_HOST", guard.url)
    yield guard
    guard.close()


def _checkpoint(run: Path, step: int) -> None:
    folder = run / "checkpoints" / f"checkpoint-{step}"
    folder.mkdir(parents=True)
    (folder / "model.safetensors").write_bytes(os.urandom(3 * PART + step))
    (folder / "trainer_state.json").write_text(json.dumps({"global_step": step}))


def _metrics(run: Path, steps: int) -> None:
    (run / "metrics.jsonl").write_text("".join(
        json.dumps({"kind": "train", "step": s, "loss": 1.0 / s}) + "\n" for s in range(1, steps + 1)))


def overwrites(guard: Guard) -> list:
    """Writes to an existing name sent without the create-only precondition (GCS: 403)."""
    return [r for r in guard.refused if r[2] == 403 and r[0] != "DELETE"]


def test_republish_and_resume_overwrite_nothing_and_readers_find_the_newest(guarded, tmp_path):
    uri = f"gs://{BUCKET}/runs/{tmp_path.name[-12:]}/"
    run = tmp_path / "run"
    run.mkdir()
    _checkpoint(run, 2)
    _metrics(run, 2)
    first = sync(str(run), uri, part_size=PART)
    assert first.transferred == 3
    first_metrics = (run / "metrics.jsonl").read_bytes()

    # The next checkpoint: metrics.jsonl changes under the same name; killed mid-upload.
    _checkpoint(run, 4)
    _metrics(run, 4)
    sync_killed_after_two_parts(str(run), uri)
    reader = storage.open_store(uri)
    assert published.read_file(reader, "metrics.jsonl") == first_metrics  # the old set, whole
    assert "checkpoints/checkpoint-4/model.safetensors" not in published.read_manifest(reader).files

    resumed = sync(str(run), uri, workers=2, part_size=PART)
    assert resumed.resumed_parts == 2
    (run / "summary.json").write_text(json.dumps({"status": "succeeded"}))
    sync(str(run), uri, part_size=PART)      # the trainer's last upload: the summary
    sync(str(run), uri, part_size=PART)      # a retried upload of the same set writes nothing

    assert overwrites(guarded) == []          # every write was to a new name
    # parts stay for the lifecycle rule: one refused delete per upload, not one per part
    assert 1 <= sum(r[0] == "DELETE" for r in guarded.refused) <= 4
    reader = storage.open_store(uri)
    assert json.loads(published.read_file(reader, "summary.json")) == {"status": "succeeded"}
    assert published.read_file(reader, "metrics.jsonl") == (run / "metrics.jsonl").read_bytes()
    assert reader.read("metrics.jsonl") == first_metrics  # its first name was never rewritten
    manifests = [o.key for o in reader.list_under(published.MANIFESTS + "/")]
    assert manifests == [f"{published.MANIFESTS}/{n:012d}.json" for n in (1, 2, 3)]
    sync(uri, str(tmp_path / "pod"), require_manifest=True)  # the retry's stage-run init container
    same_tree(run, tmp_path / "pod")


def test_the_store_itself_refuses_to_replace_an_object(guarded, tmp_path):
    """GCSStore.create carries ifGenerationMatch=0: an existing name answers False, not a
    replacement; the object keeps its bytes."""
    store = storage.open_store(f"gs://{BUCKET}/runs/{tmp_path.name[-12:]}/")
    assert store.create("summary.json", b"first") is True
    assert store.create("summary.json", b"second") is False
    assert store.read("summary.json") == b"first"
    assert [r[:2] for r in guarded.refused] == [("upload", store.full("summary.json"))]
    assert overwrites(guarded) == []
    with pytest.raises(KitError, match="permission denied"):  # what a plain overwrite meets
        store.put("summary.json", b"third")
    with pytest.raises(KitError, match="permission denied"):
        store.delete("summary.json")
    assert store.read("summary.json") == b"first"


def test_the_eval_report_reads_the_newest_metrics_not_the_first_name(guarded, tmp_path):
    """kit.eval_report reads eval.json and metrics.jsonl of the newest published set: after a
    republish the plain metrics.jsonl still holds the first upload's records."""
    from kit import eval_report

    uri = f"gs://{BUCKET}/runs/{tmp_path.name[-12:]}/"
    run = tmp_path / "run"
    run.mkdir()
    (run / "eval.json").write_text(json.dumps({"examples": 3, "base_loss": 8.0, "tuned_loss": 5.0}))
    _metrics(run, 2)
    sync(str(run), uri)
    _metrics(run, 6)
    sync(str(run), uri)
    held, records = eval_report.load(uri)
    assert held["tuned_loss"] == 5.0
    assert [r["step"] for r in records] == [1, 2, 3, 4, 5, 6]
    assert overwrites(guarded) == []


def test_a_resume_with_another_part_size_never_meets_the_old_parts(guarded, tmp_path):
    """Parts are never replaced, so an attempt with another part size must not land on the
    names of an interrupted one's parts (whose bytes differ): it uploads its own and succeeds."""
    uri = f"gs://{BUCKET}/runs/{tmp_path.name[-12:]}/"
    src = tmp_path / "src"
    src.mkdir()
    (src / "w.bin").write_bytes(os.urandom(4 * PART + 5))
    sync_killed_after_two_parts(str(src), uri)
    sync(str(src), uri, part_size=2 * PART)
    assert overwrites(guarded) == [] and not [r for r in guarded.refused if r[2] == 412]
    sync(uri, str(tmp_path / "back"), require_manifest=True)
    same_tree(src, tmp_path / "back")
