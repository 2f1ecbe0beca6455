"""file:// and plain paths. Writes go to a hidden temporary file and are renamed into place,
so a reader never sees a half-written file."""

from __future__ import annotations

import os
import shutil
import uuid
from pathlib import Path
from typing import Callable, Iterator

from kit.data.objects import Location, ObjectInfo, is_hidden
from kit.errors import KitError

TMP = ".kit-tmp"


def _info(key: str, path: Path) -> ObjectInfo:
    st = path.stat()
    return ObjectInfo(key, st.st_size, etag=f"{st.st_mtime_ns:x}-{st.st_size:x}")


class LocalUpload:
    """Parts written at their offsets into a preallocated temporary file, renamed on finish."""

    def __init__(self, final: Path, tmp: Path, size: int, part_size: int) -> None:
        self.done: set[int] = set()
        self.final, self.tmp, self.part_size = final, tmp, part_size
        with open(tmp, "wb") as fh:
            fh.truncate(size)
        self._fd = os.open(tmp, os.O_WRONLY)

    def put_part(self, index: int, data: bytes) -> None:
        os.pwrite(self._fd, data, index * self.part_size)

    def finish(self) -> None:
        os.fsync(self._fd)
        os.close(self._fd)
        os.replace(self.tmp, self.final)


class LocalStore:
    scheme = "file"
    create_only = False  # files are replaced atomically by rename (kit.data.published)

    def __init__(self, loc: Location, *, kms_key: str | None = None, workers: int = 8) -> None:
        self.root = Path(loc.prefix)
        self.uri = str(self.root)

    def _path(self, key: str) -> Path:
        return self.root / key

    def list(self) -> Iterator[ObjectInfo]:
        if self.root.is_file():
            yield _info(self.root.name, self.root)
            return
        if not self.root.is_dir():
            raise KitError(f"{self.root}: no such file or folder")
        for path in sorted(self.root.rglob("*")):
            key = path.relative_to(self.root).as_posix()
            if path.is_file() and not is_hidden(key):
                yield _info(key, path)

    def stat(self, key: str) -> ObjectInfo | None:
        """With the sha256: a local file has no metadata to keep it in, and hashing is cheap."""
        from kit.data.manifest import sha256_file

        path = self._path(key)
        if not path.is_file():
            return None
        info = _info(key, path)
        return ObjectInfo(key, info.size, info.etag, sha256_file(path))

    def read(self, key: str, start: int = 0, end: int | None = None,
             etag: str | None = None) -> bytes:
        with open(self._path(key), "rb") as fh:
            fh.seek(start)
            return fh.read(-1 if end is None else end - start)

    def _tmp(self, key: str) -> Path:
        """A fresh hidden file to write before renaming (plain open: the umask sets its mode)."""
        folder = self.root / TMP
        folder.mkdir(parents=True, exist_ok=True)
        return folder / f"{Path(key).name}.{uuid.uuid4().hex}"

    def put(self, key: str, data: bytes, sha256: str | None = None) -> None:
        final = self._path(key)
        final.parent.mkdir(parents=True, exist_ok=True)
        tmp = self._tmp(key)
        with open(tmp, "wb") as fh:
            fh.write(data)
            fh.flush()
            os.fsync(fh.fileno())
        os.replace(tmp, final)

    def delete(self, key: str) -> None:
        self._path(key).unlink(missing_ok=True)

    def begin(self, key: str, size: int, sha256: str, part_size: int,
              read_part: Callable[[int], bytes]) -> LocalUpload:
        final = self._path(key)
        final.parent.mkdir(parents=True, exist_ok=True)
        return LocalUpload(final, self._tmp(key), size, part_size)

    def cleanup(self) -> None:
        shutil.rmtree(self.root / TMP, ignore_errors=True)
