"""Republishing a smaller set: files the new manifest drops are never read again (readers follow
the manifest), a download folder loses them, a local publish folder loses what the kit itself
published there, and nothing the kit did not publish is ever deleted."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from kit.data import storage
from kit.data.fingerprint import dataset_fingerprint, local_dataset_files
from kit.data.formats import DataError, data_files, iter_examples
from kit.data.manifest import MANIFEST, read_local
from kit.data.push import push
from kit.data.sync import sync


def pair(q: str, a: str) -> str:
    return json.dumps({"messages": [{"role": "user", "content": q},
                                    {"role": "assistant", "content": a}]}) + "\n"


def write_set(root: Path, names: list[str]) -> Path:
    root.mkdir(parents=True, exist_ok=True)
    for name in names:
        (root / name).parent.mkdir(parents=True, exist_ok=True)
        (root / name).write_text(pair(f"question in {name}", f"a good answer from {name}"))
    return root


def names(root: Path) -> list[str]:
    return [p.relative_to(root).as_posix() for p in data_files(root)]


@pytest.mark.parametrize("store", ["local", "s3"])
def test_download_of_a_smaller_set_drops_the_removed_files(store, tmp_path, request):
    dest_uri = (str(tmp_path / "store") if store == "local"
                else request.getfixturevalue("s3").uri)
    write_set(tmp_path / "v1", ["a.jsonl", "sub/b.jsonl"])
    sync(str(tmp_path / "v1"), dest_uri)
    dst = tmp_path / "dst"
    sync(dest_uri, str(dst), require_manifest=True)
    assert names(dst) == ["a.jsonl", "sub/b.jsonl"]

    write_set(tmp_path / "v2", ["a.jsonl"])
    sync(str(tmp_path / "v2"), dest_uri)
    down = sync(dest_uri, str(dst), require_manifest=True)
    assert set(read_local(dst).files) == {"a.jsonl"}
    assert not (dst / "sub").exists()  # the removed file, and the folder it leaves empty
    assert names(dst) == ["a.jsonl"]
    assert [e.source for e in iter_examples(dst)] == [str(dst / "a.jsonl")]
    assert dataset_fingerprint(dst) == down.manifest.fingerprint == dataset_fingerprint(dest_uri)
    assert (dst / MANIFEST).is_file()


def test_republish_to_a_local_folder_drops_only_what_the_kit_published(tmp_path):
    src = write_set(tmp_path / "src", ["a.jsonl", "b.jsonl"])
    out = tmp_path / "out"
    write_set(out, ["theirs.jsonl"])  # the customer's own file beside the published set
    (out / "notes.txt").write_text("the customer's")
    push(str(src), str(out))
    assert names(out) == ["a.jsonl", "b.jsonl"]  # the manifest's set, not theirs.jsonl

    (src / "b.jsonl").unlink()
    push(str(src), str(out))
    assert set(read_local(out).files) == {"a.jsonl"}
    assert not (out / "b.jsonl").exists()
    assert (out / "theirs.jsonl").is_file() and (out / "notes.txt").is_file()
    assert names(out) == ["a.jsonl"]
    assert (src / "a.jsonl").is_file()


def test_republish_never_deletes_a_source_file(tmp_path):
    """DEST above SRC: the old set's `src/a.jsonl` is the very file being uploaded now."""
    out = tmp_path / "out"
    src = write_set(out / "src", ["a.jsonl"])
    write_set(tmp_path / "first", ["src/a.jsonl"])
    sync(str(tmp_path / "first"), str(out))
    sync(str(src), str(out))
    assert (src / "a.jsonl").is_file()
    assert set(read_local(out).files) == {"a.jsonl"}


def test_bucket_readers_follow_the_manifest_not_the_listing(s3, tmp_path):
    write_set(tmp_path / "v1", ["a.jsonl", "b.jsonl"])
    sync(str(tmp_path / "v1"), s3.uri)
    write_set(tmp_path / "v2", ["a.jsonl"])
    up = sync(str(tmp_path / "v2"), s3.uri)
    store = storage.open_store(s3.uri)
    assert store.stat("b.jsonl") is not None  # bucket objects are left in place...
    assert dataset_fingerprint(s3.uri) == up.manifest.fingerprint  # ...and never read
    sync(s3.uri, str(tmp_path / "fresh"))
    assert names(tmp_path / "fresh") == ["a.jsonl"]


def test_local_readers_honour_a_manifest(tmp_path):
    root = write_set(tmp_path / "set", ["a.jsonl"])
    sync(str(root), str(tmp_path / "pub"))
    pub = tmp_path / "pub"
    write_set(pub, ["stray.jsonl", "more/stray.csv"])  # left over, not in the manifest
    assert names(pub) == ["a.jsonl"]
    assert list(local_dataset_files(pub)) == ["a.jsonl"]
    assert dataset_fingerprint(pub) == read_local(pub).fingerprint == dataset_fingerprint(root)

    (pub / "a.jsonl").unlink()
    with pytest.raises(DataError) as exc:
        data_files(pub)
    assert str(pub / "a.jsonl") in exc.value.one_line() and "missing" in exc.value.one_line()
    assert "\n" not in exc.value.one_line()


def test_folder_without_a_manifest_reads_every_data_file(tmp_path):
    root = write_set(tmp_path / "plain", ["a.jsonl", "b.jsonl", "sub/c.jsonl"])
    (root / "readme.md").write_text("not data")
    (root / ".hidden.jsonl").write_text("hidden: not data")
    assert names(root) == ["a.jsonl", "b.jsonl", "sub/c.jsonl"]
    assert list(local_dataset_files(root)) == ["a.jsonl", "b.jsonl", "sub/c.jsonl"]
    assert len(list(iter_examples(root))) == 3


def test_a_manifest_key_cannot_escape_the_destination(tmp_path):
    """A tampered manifest naming ../x must not write outside the download folder."""
    import json

    from kit.data.storage import open_store
    from kit.data.transfer import download
    from kit.errors import KitError

    src = tmp_path / "published"
    src.mkdir()
    (src / "a.jsonl").write_text("{}\n")
    (src / ".kit-manifest.json").write_text(json.dumps({
        "version": 1, "kind": "files", "fingerprint": "x",
        "files": {"../escaped.jsonl": {"size": 3, "sha256": "0" * 64}}}))
    with pytest.raises(KitError, match="outside the destination"):
        download(open_store(str(src)), tmp_path / "dest")
    assert not (tmp_path / "escaped.jsonl").exists()
