"""`kit data push`: validate, then publish the data files with a dataset manifest (sha256 per
file, example count, fingerprint). Invalid data is refused unless forced. Likely PHI is only
warned about here: publishing a copy to the customer's own bucket is not training, and `kit up`
applies data.phi when it reads the copy."""

from __future__ import annotations

from kit.data import storage
from kit.data.fingerprint import local_dataset_files
from kit.data.transfer import SyncResult
from kit.data.validate import Report, staged, validate_local
from kit.errors import KitError


def push(src: str, dest: str, *, force: bool = False, model_dir: str | None = None,
         max_length: int = 2048, workers: int = 8,
         kms_key: str | None = None) -> tuple[Report, SyncResult | None]:
    """(validation report, upload result); the result is None when the data was refused."""
    from kit.data.sync import sync

    if not storage.is_remote(dest) and storage.parse_uri(dest) == storage.parse_uri(src):
        raise KitError(f"{dest}: the destination is the source")
    with staged(src) as (local, display):
        report = validate_local(local, path=src, display=display, model_dir=model_dir,
                                max_length=max_length, phi="warn")
        if not report.ok and not force:
            return report, None
        files = local_dataset_files(local)
        meta = {"examples": report.examples, "source": src,
                "validation": {"errors": len(report.errors), "warnings": len(report.warnings),
                               "forced": bool(report.errors)}}
        result = sync(str(local), dest, workers=workers, kms_key=kms_key, files=files,
                      kind="dataset", meta=meta)
    return report, result
