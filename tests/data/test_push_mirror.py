"""`kit data push` and `kit model mirror`: validate first, publish with a manifest, skip what
is unchanged, refuse pickle weights; the hub path runs against a fake hub, never the network."""

from __future__ import annotations

import hashlib
import json
import os
from pathlib import Path

import pytest

from kit.data import storage
from kit.data.fingerprint import dataset_fingerprint
from kit.data.manifest import MANIFEST
from kit.data.mirror import mirror
from kit.data.push import push
from kit.errors import KitError


def pair(q: str, a: str) -> str:
    return json.dumps({"messages": [{"role": "user", "content": q},
                                    {"role": "assistant", "content": a}]}) + "\n"


@pytest.fixture
def dataset(tmp_path) -> Path:
    root = tmp_path / "data"
    (root / "part").mkdir(parents=True)
    (root / "a.jsonl").write_text(pair("first question", "a good long answer") * 1 +
                                  pair("second question", "another good answer"))
    (root / "part" / "b.csv").write_text("prompt,response\nthird question,third good answer\n")
    (root / "README.md").write_text("not data: never pushed")
    return root


def test_push_publishes_data_files_with_a_dataset_manifest(remote, dataset, tmp_path):
    report, result = push(str(dataset), remote.uri)
    assert report.ok and result is not None
    published = storage.read_manifest(storage.open_store(remote.uri))
    assert published.kind == "dataset" and published.meta["examples"] == 3
    assert set(published.files) == {"a.jsonl", "part/b.csv"}
    assert published.files["a.jsonl"].sha256 == hashlib.sha256((dataset / "a.jsonl").read_bytes()).hexdigest()
    assert published.fingerprint == dataset_fingerprint(str(dataset)) == dataset_fingerprint(remote.uri)
    again = push(str(dataset), remote.uri)[1]
    assert (again.transferred, again.bytes) == (0, 0)


def test_push_refuses_invalid_data_unless_forced(s3, dataset, kit):
    (dataset / "bad.jsonl").write_text(pair("q", "a") + "{oops\n")
    report, result = push(str(dataset), s3.uri)
    assert result is None and [str(e) for e in report.errors] == [
        f"{dataset / 'bad.jsonl'}:2: invalid JSON: Expecting property name enclosed in double "
        "quotes (column 2)"]
    assert storage.open_store(s3.uri).stat(MANIFEST) is None and not list(storage.open_store(s3.uri).list())

    proc = kit("data", "push", str(dataset), s3.uri, env=s3.env())
    assert proc.returncode == 1 and "Traceback" not in proc.stdout + proc.stderr
    assert f"{dataset / 'bad.jsonl'}:2: error: invalid JSON" in proc.stdout
    assert proc.stderr.strip().endswith("(hint: fix them (kit data validate SRC), or pass --force "
                                        "to publish anyway)")

    forced = kit("data", "push", str(dataset), s3.uri, "--force", "-o", "json", env=s3.env())
    assert forced.returncode == 0, forced.stderr
    body = json.loads(forced.stdout)
    assert body["push"]["files"] == 3 and body["report"]["errors"]
    published = storage.read_manifest(storage.open_store(s3.uri))
    assert published.meta["validation"] == {"errors": 1, "warnings": published.meta["validation"]["warnings"],
                                            "forced": True}


def make_model(root: Path, weights: str = "model.safetensors") -> Path:
    root.mkdir(parents=True)
    (root / weights).write_bytes(os.urandom(6 << 20))
    for name in ("config.json", "generation_config.json", "tokenizer.json", "tokenizer_config.json",
                 "special_tokens_map.json"):
        (root / name).write_text(json.dumps({"name": name}))
    (root / "README.md").write_text("model card")
    (root / "training_args.bin").write_bytes(b"pickle!")
    (root / "original").mkdir()
    (root / "original" / "consolidated.pth").write_bytes(b"pickle")
    return root


MODEL_FILES = {"model.safetensors", "config.json", "generation_config.json", "tokenizer.json",
               "tokenizer_config.json", "special_tokens_map.json"}


def test_mirror_local_folder_is_selective_and_idempotent(remote, tmp_path, monkeypatch):
    import huggingface_hub

    def no_hub(*args, **kwargs):
        raise AssertionError("a local folder must not touch the hub")

    monkeypatch.setattr(huggingface_hub, "snapshot_download", no_hub)
    monkeypatch.setattr(huggingface_hub.HfApi, "model_info", no_hub)
    model = make_model(tmp_path / "m")
    first = mirror(str(model), remote.uri)
    published = storage.read_manifest(storage.open_store(remote.uri))
    assert published.kind == "model" and set(published.files) == MODEL_FILES
    assert published.meta["pickle"] is False and first.transferred == len(MODEL_FILES)
    second = mirror(str(model), remote.uri)
    assert (second.transferred, second.skipped, second.bytes) == (0, len(MODEL_FILES), 0)
    staged = storage.parse_uri(str(tmp_path / "staged"))
    from kit.data.sync import sync

    sync(remote.uri, staged.prefix, require_manifest=True)
    assert {p.name for p in Path(staged.prefix).iterdir() if not p.name.startswith(".")} == MODEL_FILES


def test_mirror_refuses_pickle_weights_unless_allowed(s3, tmp_path, kit):
    model = make_model(tmp_path / "m", weights="pytorch_model.bin")
    with pytest.raises(KitError, match="has only pickle weights"):
        mirror(str(model), s3.uri)
    proc = kit("model", "mirror", str(model), s3.uri, env=s3.env())
    assert proc.returncode == 1 and proc.stderr.startswith(f"error: {model}: has only pickle weights")
    assert "--allow-pickle" in proc.stderr and "Traceback" not in proc.stderr
    ok = kit("model", "mirror", str(model), s3.uri, "--allow-pickle", "-o", "json", env=s3.env())
    assert ok.returncode == 0, ok.stderr
    published = storage.read_manifest(storage.open_store(s3.uri))
    assert "pytorch_model.bin" in published.files and published.meta["pickle"] is True
    assert "training_args.bin" not in published.files  # a pickle, but not weights


class FakeHub:
    """Serves one repository from a local folder through the two calls mirror makes."""

    def __init__(self, folder: Path, sha: str) -> None:
        self.folder, self.sha, self.downloads = folder, sha, []

    def model_info(self, repo_id, revision=None, **kwargs):
        assert repo_id == "acme/tiny"
        sibling = type("Sibling", (), {})
        siblings = []
        for path in sorted(self.folder.rglob("*")):
            if path.is_file():
                s = sibling()
                s.rfilename = path.relative_to(self.folder).as_posix()
                siblings.append(s)
        return type("Info", (), {"sha": self.sha, "siblings": siblings})()

    def snapshot_download(self, repo_id, revision=None, allow_patterns=None, **kwargs):
        assert revision == self.sha  # the resolved commit, not a moving branch
        self.downloads.append(sorted(allow_patterns))
        return str(self.folder)


def test_mirror_from_a_fake_hub_records_the_commit(s3, tmp_path, monkeypatch):
    import huggingface_hub

    hub = FakeHub(make_model(tmp_path / "repo"), "0123abcd" * 5)
    monkeypatch.setattr(huggingface_hub.HfApi, "model_info", lambda self, *a, **k: hub.model_info(*a, **k))
    monkeypatch.setattr(huggingface_hub, "snapshot_download", hub.snapshot_download)
    result = mirror("acme/tiny", s3.uri, revision="main")
    assert hub.downloads == [sorted(MODEL_FILES)]
    published = storage.read_manifest(storage.open_store(s3.uri))
    assert published.meta["revision"] == hub.sha and published.meta["requested_revision"] == "main"
    assert set(published.files) == MODEL_FILES and result.files == len(MODEL_FILES)


def test_mirror_bad_source_is_one_line(tmp_path, kit):
    proc = kit("model", "mirror", str(tmp_path / "nope"), str(tmp_path / "out"))
    assert proc.returncode == 1
    assert proc.stderr.strip() == (f"error: {tmp_path / 'nope'}: no such model folder, "
                                   "and not a hub id like org/name")
    empty = tmp_path / "empty"
    empty.mkdir()
    (empty / "config.json").write_text("{}")
    proc = kit("model", "mirror", str(empty), str(tmp_path / "out"))
    assert proc.stderr.strip() == f"error: {empty}: no model weights (*.safetensors) found"
