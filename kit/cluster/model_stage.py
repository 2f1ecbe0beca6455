"""Staging a run's model for the server, on clusters that can snapshot volumes.

A Job (charts/stage) copies the run's merged model from the bucket onto a volume, with the
server's read-only identity and the storage-egress label; once it has succeeded the volume is
snapshotted, and the Job and the volume are removed. Every server replica restores its own
volume from that snapshot, so the server's pod, where prompts and API keys are seen, has no
storage access at all. A snapshot is made once per run and kept until `kit down`, so rolling
back to an earlier run (`kit serve --run`) restores at once.
"""

from __future__ import annotations

import time
from typing import Any, Callable

from rich.console import Console

from kit.cluster.kube import SNAPSHOT_API
from kit.config import KitConfig
from kit.errors import KitError
from kit.layout.kube_names import model_snapshot

POLL_S = 5.0
SNAPSHOT_TIMEOUT_S = 3600.0      # the first snapshot of a large volume copies every block


def _condition(obj: dict[str, Any], kind: str) -> dict[str, Any] | None:
    for cond in (obj.get("status") or {}).get("conditions") or []:
        if cond.get("type") == kind and cond.get("status") == "True":
            return cond
    return None


class ModelStage:
    """The VolumeSnapshot of a run's model: made when missing, waited for until ready."""

    def __init__(self, cfg: KitConfig, kube: Callable[[], Any], cluster: Callable[[], Any],
                 console: Console) -> None:
        self.cfg = cfg
        self.kube = kube
        self.cluster = cluster
        self.console = console

    def ensure(self, run_id: str) -> str:
        """The name of the run's ready snapshot, staging and snapshotting it first if needed."""
        from kit.render import render_objects

        kube, name = self.kube(), model_snapshot(self.cfg.name, run_id)
        current = kube.get(SNAPSHOT_API, "VolumeSnapshot", name)
        if current is not None and self._ready(current):
            return name
        if current is None:
            objects = render_objects(self.cfg, self.cluster(), run_id=run_id)["stage"]
            snapshot = [o for o in objects if o["kind"] == "VolumeSnapshot"]
            staging = [o for o in objects if o["kind"] != "VolumeSnapshot"]
            job = next(o["metadata"]["name"] for o in staging if o["kind"] == "Job")
            volume = next(o["metadata"]["name"] for o in staging
                          if o["kind"] == "PersistentVolumeClaim")
            self.console.print(f"  staging run {run_id}'s model onto a volume (Job {job})")
            earlier = kube.get("batch/v1", "Job", job)
            if earlier is not None and _condition(earlier, "Failed"):   # a Job never restarts
                kube.delete("batch/v1", "Job", job, foreground=True)
                kube.wait_gone("batch/v1", "Job", job, timeout_s=300)
            kube.apply(staging)
            self._wait_job(job)
            kube.apply(snapshot)
            self.console.print(f"  snapshotting it as {name}")
            self._wait_snapshot(name)
            kube.delete("batch/v1", "Job", job, foreground=True)
            kube.delete("v1", "PersistentVolumeClaim", volume)
            kube.delete("networking.k8s.io/v1", "NetworkPolicy", job)   # the Job's own
        else:
            self._wait_snapshot(name)
        return name

    @staticmethod
    def _ready(snapshot: dict[str, Any]) -> bool:
        return bool((snapshot.get("status") or {}).get("readyToUse"))

    @staticmethod
    def _error(snapshot: dict[str, Any] | None) -> str | None:
        """The snapshot controller's last error: often transient (a conflict it retries), so
        it fails the wait only once the wait is over."""
        message = (((snapshot or {}).get("status") or {}).get("error") or {}).get("message")
        return " ".join(message.split()) if message else None

    def _wait_job(self, job: str) -> None:
        kube = self.kube()
        while True:
            obj = kube.get("batch/v1", "Job", job)
            if obj is None:
                raise KitError(f"Job {job} disappeared while staging the model",
                               hint="run `kit up` again")
            if _condition(obj, "Complete"):
                return
            failed = _condition(obj, "Failed")
            if failed:
                raise KitError(f"staging the model failed: Job {job}: "
                               f"{failed.get('reason', '')} {failed.get('message', '')}".rstrip(),
                               hint=f"kubectl -n {kube.namespace} logs job/{job}; "
                                    "`kit up` again resumes the copy")
            time.sleep(POLL_S)

    def _wait_snapshot(self, name: str) -> None:
        deadline = time.monotonic() + SNAPSHOT_TIMEOUT_S
        while True:
            obj = self.kube().get(SNAPSHOT_API, "VolumeSnapshot", name)
            if obj is not None and self._ready(obj):
                return
            if time.monotonic() > deadline:
                error = self._error(obj)
                namespace = self.kube().namespace
                raise KitError(f"VolumeSnapshot {name} failed: {error}" if error else
                               f"VolumeSnapshot {name} is not ready after "
                               f"{SNAPSHOT_TIMEOUT_S / 60:.0f} minutes",
                               hint=f"kubectl -n {namespace} describe volumesnapshot {name}; "
                                    "delete it and run `kit up` again to stage anew")
            time.sleep(POLL_S)
