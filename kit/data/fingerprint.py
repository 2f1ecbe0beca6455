"""The identity of a dataset: a fingerprint over its data files' names and sha256s, the same
for equal content wherever it lives (a local file or folder, or a bucket prefix with its
manifest). The pipeline keys fine-tune runs on it (kit.pipeline.run_fingerprint)."""

from __future__ import annotations

import tempfile
from pathlib import Path

from kit.data import storage
from kit.data.formats import SUFFIXES, data_files
from kit.data.manifest import fingerprint, sha256_file


def local_dataset_files(path: str | Path) -> dict[str, Path]:
    """Relative name -> file for the data files of a local dataset (a file keeps its name)."""
    path = Path(path)
    files = data_files(path)
    if path.is_file():
        return {path.name: path}
    return {f.relative_to(path).as_posix(): f for f in files}


def dataset_fingerprint(path_or_uri: str | Path) -> str:
    """Content fingerprint of a dataset: a sha256 over its data files' names and sha256s.

    A local file or folder is hashed in place. A bucket URI uses its manifest when it has one
    (nothing is downloaded); otherwise it is staged to a temporary folder and hashed there.
    """
    text = str(path_or_uri)
    if storage.is_remote(text):
        store = storage.open_store(text)
        published = storage.read_manifest(store)
        if published is not None:  # the data files it names, as data_files() would pick them
            return fingerprint({p: e.sha256 for p, e in published.files.items()
                                if Path(p).suffix in SUFFIXES})
        from kit.data.sync import sync

        with tempfile.TemporaryDirectory(prefix="kit-fp-") as tmp:
            sync(text, tmp)
            return dataset_fingerprint(tmp)
    files = local_dataset_files(storage.local_path(text))
    return fingerprint({name: sha256_file(p) for name, p in files.items()})
