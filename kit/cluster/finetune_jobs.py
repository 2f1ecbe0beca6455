"""A fine-tune run's Job on a cluster: starting it, following it to the end with progress,
saying why it failed, and reconciling the run's record with it.

The Job's name is fixed per deployment (<name>-finetune), so a new run replaces the finished
Job of the previous one; a Job that still runs, or that finished this very run, is never
replaced behind the user's back. The record (kit.pipeline.ledger, the one ledger) is
reconciled with the Job whenever it is read; once the Job is gone (its TTL deletes a finished
one), the run's summary.json in the artifacts bucket, which the trainer uploads last, says
whether it succeeded. Which run to start, and what to do with it after, is the pipeline's
(kit.pipeline.flow).
"""

from __future__ import annotations

import json
import time
from typing import Any, Callable

from rich.console import Console
from rich.markup import escape

from kit.cluster.jobwatch import SUCCEEDED as JOB_SUCCEEDED
from kit.cluster.jobwatch import JobWatch, TrainerLog
from kit.config import KitConfig
from kit.errors import KitError
from kit.layout.kube_names import finetune_job
from kit.pipeline.flow import record_end, succeeded
from kit.pipeline.ledger import FAILED, INTERRUPTED, RUNNING, SUCCEEDED, Run, RunStore
from kit.pipeline.phases import Outcome
from kit.trainer.events import EXIT_BAD_DATA

SUMMARY = "summary.json"


def job_watch(job_name: str, job: dict[str, Any]) -> JobWatch:
    """What a Job object says by itself: running, succeeded or failed."""
    watch = JobWatch(job_name)
    watch.feed({"type": "MODIFIED", "object": {"kind": "Job", **job}}, 0)
    return watch


class FineTuneJobs:
    """The fine-tune Job of one deployment, and the run records it answers for."""

    def __init__(self, cfg: KitConfig, store: RunStore, kube: Callable[[], Any],
                 cluster: Callable[[], Any], console: Console,
                 storage: Callable[[str], Any]) -> None:
        self.cfg = cfg
        self.store = store
        self.kube = kube
        self.cluster = cluster
        self.console = console
        self.storage = storage    # URI -> kit.data.storage.Store
        self.job_name = finetune_job(cfg.name)

    def launch(self, run: Run) -> None:
        """Apply the run's Job, replacing a finished Job of another run (or a failed one of
        this run: a retry). This run's Job that still trains, or succeeded, is kept: the run
        is followed (`follow`) or its end recorded (`reconcile`) instead."""
        from kit.render import render_objects

        kube = self.kube()
        job = kube.get("batch/v1", "Job", self.job_name)
        if job is not None:
            owner = ((job.get("metadata") or {}).get("labels") or {}).get("lima-kit.io/run-id")
            active = (job.get("status") or {}).get("active")
            if owner == run.id and active:
                self.console.print(f"  run {run.id} is already running: following it")
                return
            if owner == run.id and job_watch(self.job_name, job).phase == JOB_SUCCEEDED:
                self.console.print(f"  run {run.id} has already finished: recording it")
                self.reconcile(run)
                return
            if active:
                raise KitError(f"run {owner} is still training on {self.cfg.name}",
                               hint="follow it with `kit logs -F`, or stop it with `kit down`")
            kube.delete("batch/v1", "Job", self.job_name, foreground=True)
            kube.wait_gone("batch/v1", "Job", self.job_name, 300)
        objects = render_objects(self.cfg, self.cluster(), run_id=run.id)["finetune"]
        kube.apply(objects)
        run.status, run.finished, run.reason, run.exit_code = RUNNING, None, None, None
        self.store.save(run)
        self.console.print(f"  started run {run.id} (Job {self.job_name}, {len(objects)} objects applied)")

    def follow(self, run: Run, *, detach: bool) -> Outcome:
        """Progress from the trainer's events until the Job ends (or, detached, trains)."""
        from kit.cluster.follow import follow_job
        from kit.progress import ProgressReporter, show_event

        watch, log = JobWatch(self.job_name), TrainerLog()
        reporter = ProgressReporter(self.console)
        try:
            follow_job(self.kube(), watch, log, run.id, until_running=detach,
                       on_progress=lambda event: show_event(event, reporter),
                       on_note=lambda text: reporter.note(escape(text)))
        finally:
            reporter.stop()
        if detach and watch.trainer_pod() and not watch.finished:
            return Outcome(f"run {run.id} is training (detached); follow it: kit logs -F")
        if watch.phase == JOB_SUCCEEDED:
            if not log.done:  # finished before its log was followed: read the end of it
                for line in self.kube().log_lines(self.pod_of(run), "trainer", follow=False, tail=50):
                    log.feed(line)
            run.status, run.finished, run.exit_code, run.metrics = SUCCEEDED, time.time(), 0, log.metrics
            self.store.save(run)
            return succeeded(run)
        return self.failed(run, watch, log)

    def failed(self, run: Run, watch: JobWatch, log: TrainerLog) -> Outcome:
        """Print the last log lines and events with the likely cause; record; raise."""
        kube = self.kube()
        # The Job's status can arrive before its pods' last updates: read the pods as they are.
        for pod in kube.list("v1", "Pod", labels=f"lima-kit.io/run-id={run.id}"):
            watch.feed({"type": "MODIFIED", "object": {"kind": "Pod", **pod}}, time.monotonic())
        for event in kube.list("v1", "Event"):
            if ((event.get("involvedObject") or {}).get("name") or "").startswith(self.job_name):
                watch.feed({"type": "ADDED", "object": {"kind": "Event", **event}}, time.monotonic())
        verdict = watch.verdict(time.monotonic())
        if verdict is None:
            raise KitError(f"fine-tune {run.id}: stopped watching before the Job ended",
                           hint="follow it with `kit logs -F`")
        lines = list(log.tail)
        if not lines and verdict.pod:
            try:
                lines = list(kube.log_lines(verdict.pod, verdict.container or "trainer",
                                            follow=False, tail=20))
            except Exception:  # the pod may be gone; the events below still say why
                lines = []
        if lines:
            self.console.print(f"  [bold]last log lines[/] ({verdict.pod or 'trainer'}):")
            for line in lines[-20:]:
                self.console.print(f"    {escape(line)}", highlight=False)
        if watch.events:
            self.console.print("  [bold]recent events[/]:")
            for line in list(watch.events)[-8:]:
                self.console.print(f"    {escape(line)}", highlight=False)
        if not watch.finished:
            kube.suspend_job(self.job_name)
            self.console.print(f"  suspended Job {self.job_name}: no pod runs; it is kept for "
                               "inspection (kubectl describe job)")
        run.status, run.finished = FAILED, time.time()
        run.reason = f"{verdict.cause}: {verdict.message}"
        run.exit_code = EXIT_BAD_DATA if verdict.cause == "bad-data" else None
        self.store.save(run)
        raise KitError(f"fine-tune {run.id} failed ({verdict.cause}): {verdict.message}",
                       hint=verdict.hint)

    def reconcile(self, run: Run) -> Run:
        """A run recorded as running: ask its Job how it ended, or, with the Job gone, the
        run's summary.json (when the cluster and the bucket answer); a run that ended is
        recorded as the pipeline records one (record_end: actual hours, the gate)."""
        if run.status != RUNNING:
            return run
        try:
            job = self.kube().get("batch/v1", "Job", self.job_name)
        except Exception:  # unreachable: the record stays as it is
            return run
        labels = ((job or {}).get("metadata") or {}).get("labels") or {}
        if job is not None and labels.get("lima-kit.io/run-id") == run.id:
            watch = job_watch(self.job_name, job)
            if not watch.finished:
                return run
            run.status = SUCCEEDED if watch.phase == JOB_SUCCEEDED else FAILED
            if run.status == SUCCEEDED:
                run.exit_code = 0
                try:
                    run.metrics = dict((self.summary(run) or {}).get("metrics") or run.metrics)
                except Exception:  # the metrics are a nicety: the Job's word stands
                    pass
        else:
            try:
                summary = self.summary(run)
            except Exception:  # the bucket does not answer: the record stays as it is
                return run
            if (summary or {}).get("status") == SUCCEEDED:
                run.status, run.exit_code, run.reason = SUCCEEDED, 0, None
                run.metrics = dict(summary.get("metrics") or {})
            else:
                run.status, run.reason = INTERRUPTED, "its Job is gone and it left no summary"
        run.finished = time.time()
        record_end(self.cfg, run)      # a detached run meets the evaluation gate here
        self.store.save(run)
        return run

    def summary(self, run: Run) -> dict[str, Any] | None:
        """The run's summary.json in the artifacts bucket: the trainer writes it last, only on
        success. None when absent, or when there is no bucket to look in."""
        from kit.data import published
        from kit.render.values import run_uri

        try:
            uri = run_uri(self.cluster(), run.id)
        except KitError:   # no infrastructure or no artifacts bucket: nothing was uploaded
            return None
        raw = published.read_file(self.storage(uri), SUMMARY)  # the newest manifest's
        data = json.loads(raw) if raw is not None else None
        return data if isinstance(data, dict) else None

    def pod_of(self, run: Run) -> str:
        pods = self.kube().list("v1", "Pod", labels=f"lima-kit.io/run-id={run.id}")
        if not pods:
            raise KitError(f"run {run.id}: its pods are gone (a finished Job is deleted after 7 days)",
                           hint="the run's outputs stay in the artifacts bucket")
        pods.sort(key=lambda p: (p.get("metadata") or {}).get("creationTimestamp") or "")
        return pods[-1]["metadata"]["name"]
