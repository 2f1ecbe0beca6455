"""`python -m kit.data.sync SRC DEST`: bucket -> local folder (init containers staging data and
weights, the local target) and local -> bucket (checkpoints, pushed datasets), with the
transfer engine's guarantees: parallel ranged transfers, sha256 checks, resume, manifest last.

Also the Python entry point `sync(src, dest, workers=8)` the trainer calls to upload runs.
"""

from __future__ import annotations

import os
import sys
import tempfile
from pathlib import Path
from typing import Any, Mapping

from kit.data import storage
from kit.data.manifest import read_local
from kit.data.transfer import SyncResult, download, upload
from kit.errors import KitError


def local_files(root: Path) -> dict[str, Path]:
    """Relative name -> path of every non-hidden file under a folder (a file keeps its name)."""
    if root.is_file():
        return {root.name: root}
    if not root.is_dir():
        raise KitError(f"{root}: no such file or folder")
    files = {}
    for path in sorted(root.rglob("*")):
        key = path.relative_to(root).as_posix()
        if path.is_file() and not storage.is_hidden(key):
            files[key] = path
    if not files:
        raise KitError(f"{root}: no files to copy")
    return files


def sync(src: str, dest: str, *, workers: int = 8, require_manifest: bool = False,
         kms_key: str | None = None, part_size: int | None = None,
         files: dict[str, Path] | None = None, kind: str | None = None,
         meta: dict[str, Any] | None = None, owners: Mapping[str, str] | None = None) -> SyncResult:
    """Copy SRC to DEST (each a bucket URI, file:// URI or path); returns counts of files/bytes.

    `files` restricts an upload to chosen files (relative name -> path); `kind` and `meta` go
    into the manifest (a local source's own manifest supplies them otherwise); `owners`: the
    kit's buckets and the account that must own each (kit.data.storage.open_store).
    """
    src_loc, dest_loc = storage.parse_uri(str(src)), storage.parse_uri(str(dest))
    if src_loc == dest_loc:
        raise KitError(f"{src}: source and destination are the same place")
    if src_loc.scheme != "file" and dest_loc.scheme != "file":
        with tempfile.TemporaryDirectory(prefix="kit-sync-") as tmp:
            staged = download(storage.open_store(str(src), owners=owners, workers=workers), Path(tmp),
                              workers=workers, part_size=part_size,
                              require_manifest=require_manifest)
            assert staged.manifest is not None
            return sync(tmp, str(dest), workers=workers, kms_key=kms_key, part_size=part_size,
                        kind=kind or staged.manifest.kind, meta=meta or staged.manifest.meta,
                        owners=owners)
    if src_loc.scheme != "file":
        store = storage.open_store(str(src), owners=owners, workers=workers)
        return download(store, Path(dest_loc.prefix), workers=workers, part_size=part_size,
                        require_manifest=require_manifest)
    root = Path(src_loc.prefix)
    if dest_loc.scheme == "file" and Path(dest_loc.prefix).is_relative_to(root) and root.is_dir():
        raise KitError(f"{dest}: the destination is inside the source folder")
    chosen = files if files is not None else local_files(root)
    own = read_local(root) if root.is_dir() else None
    if kind is None and own is not None:
        kind, meta = own.kind, meta or own.meta
    store = storage.open_store(str(dest), owners=owners, kms_key=kms_key, workers=workers)
    return upload(chosen, store, kind=kind or "files", meta=meta, workers=workers,
                  part_size=part_size)


def _human(n: float) -> str:
    for unit in ("B", "KiB", "MiB", "GiB"):
        if n < 1024 or unit == "GiB":
            return f"{n:.1f} {unit}" if unit != "B" else f"{int(n)} B"
        n /= 1024
    return f"{n:.1f} GiB"


def main(argv: list[str] | None = None) -> int:
    import argparse
    import json
    import time

    parser = argparse.ArgumentParser(
        prog="python -m kit.data.sync",
        description="Copy a dataset, model or run between a bucket and a local folder "
                    "(resumable, checksummed, manifest written last).")
    parser.add_argument("src", help="a storage URI (kit.data.storage) or a path")
    parser.add_argument("dest", help="a storage URI (kit.data.storage) or a path")
    parser.add_argument("--workers", type=int, default=8, help="parallel transfers (default 8)")
    parser.add_argument("--require-manifest", action="store_true",
                        help="refuse a source without a manifest (a published model or dataset)")
    parser.add_argument("--kms-key", default=None,
                        help=f"customer key for server-side encryption (or ${storage.KMS_ENV})")
    parser.add_argument("--part-size-mib", type=int, default=None, help="part size in MiB")
    parser.add_argument("--json", action="store_true", help="print the result as JSON")
    args = parser.parse_args(argv)
    started = time.perf_counter()
    try:
        result = sync(args.src, args.dest, workers=args.workers,
                      require_manifest=args.require_manifest, kms_key=args.kms_key,
                      part_size=args.part_size_mib * storage.MiB if args.part_size_mib else None)
    except KitError as exc:
        print(f"error: {exc.one_line()}", file=sys.stderr)
        return 1
    except KeyboardInterrupt:
        print("interrupted: run the same command again to resume", file=sys.stderr)
        return 130
    except Exception as exc:  # a bug, not a user error: still one line, as the kit CLI does
        if os.environ.get("KIT_DEBUG"):
            raise
        print(f"error: internal error: {type(exc).__name__}: {exc} "
              "(hint: rerun with KIT_DEBUG=1 for the traceback and report it)", file=sys.stderr)
        return 1
    seconds = time.perf_counter() - started
    if args.json:
        print(json.dumps({**result.to_dict(), "seconds": round(seconds, 3)}))
    else:
        print(f"synced {result.files} files to {args.dest}: {result.transferred} copied "
              f"({_human(result.bytes)}), {result.skipped} unchanged, "
              f"{result.resumed_parts} parts resumed, in {seconds:.1f}s")
    return 0


if __name__ == "__main__":
    sys.exit(main())
