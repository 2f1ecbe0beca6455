"""Following workloads until they settle: a fine-tune Job to its end (with the trainer's log
streamed as progress) and a server Deployment to its new pods.

Kept apart from kit.cluster.kube (the client): this is the waiting and merging of several blocking
streams (Job, Pod and Event watches, pod logs); kit.cluster.jobwatch decides what they mean.
"""

from __future__ import annotations

import queue
import threading
import time
from typing import TYPE_CHECKING, Any, Callable, Iterable

from kit.cluster.jobwatch import event_subject
from kit.cluster.kube import short_error
from kit.errors import KitError

if TYPE_CHECKING:
    from kit.cluster.jobwatch import JobWatch, TrainerLog
    from kit.cluster.kube import Kube


class Feed:
    """Blocking streams merged into one queue, each read on its own daemon thread."""

    def __init__(self) -> None:
        self.queue: queue.Queue = queue.Queue()
        self.stop = threading.Event()

    def add(self, tag: str, stream: Callable[[], Iterable[Any]], *, restart: bool = False,
            backoff_s: float = 2.0) -> None:
        """Read `stream()` into the queue; with restart, open it again after an error."""
        def run() -> None:
            while not self.stop.is_set():
                try:
                    for item in stream():
                        if self.stop.is_set():
                            return
                        self.queue.put((tag, item))
                except Exception as exc:  # surfaced to the consumer, which decides
                    self.queue.put(("error", f"{tag}: {short_error(exc)}"))
                    if restart:
                        self.stop.wait(backoff_s)
                        continue
                break
            self.queue.put(("end", tag))

        threading.Thread(target=run, daemon=True, name=f"feed {tag}").start()

    def get(self, timeout: float) -> tuple[str, Any] | None:
        try:
            return self.queue.get(timeout=timeout)
        except queue.Empty:
            return None

    def close(self) -> None:
        self.stop.set()


def follow_job(kube: "Kube", watch: "JobWatch", log: "TrainerLog", run_id: str, *,
               on_note: Callable[[str], None], on_progress: Callable[["TrainerLog"], None],
               until_running: bool = False, clock: Callable[[], float] = time.monotonic,
               tick_s: float = 2.0, drain_s: float = 5.0) -> None:
    """Watch the Job, its pods and their Events, and stream the training pod's log, until the
    Job finishes or `watch.verdict` says it cannot (or, with until_running, it trains)."""
    feed = Feed()
    stop = feed.stop
    name = watch.job_name
    feed.add("job", lambda: kube.watch("batch/v1", "Job", stop=stop,
                                       fields=f"metadata.name={name}"), restart=True)
    feed.add("pod", lambda: kube.watch("v1", "Pod", stop=stop, labels=f"lima-kit.io/run-id={run_id}"),
             restart=True)
    feed.add("event", lambda: kube.watch("v1", "Event", stop=stop), restart=True)
    streaming: set[str] = set()
    logs_open = 0

    def take(tag: str, payload: Any, now: float) -> None:
        nonlocal logs_open
        if tag in ("job", "pod", "event"):
            involved = event_subject(payload.get("object") or {})
            if tag != "event" or involved.startswith(name):
                for note in watch.feed(payload, now):
                    on_note(note)
        elif tag == "log":
            event = log.feed(payload)
            if event is not None:
                on_progress(event)
        elif tag == "end" and payload == "log":
            logs_open -= 1
        elif tag == "error" and not payload.startswith("log"):
            on_note(f"watch interrupted ({payload}); reconnecting")

    try:
        while True:
            item = feed.get(tick_s)
            now = clock()
            if item is not None:
                take(*item, now)
            pod = watch.trainer_pod()
            if pod and pod not in streaming:
                streaming.add(pod)
                logs_open += 1
                feed.add("log", lambda pod=pod: kube.log_lines(pod, "trainer", follow=True))
            if until_running and pod:
                return
            if watch.finished or watch.verdict(now) is not None:
                break
        # The log may trail the Job's status: read what is left of it (a few seconds at most).
        deadline = clock() + drain_s
        while logs_open > 0 and clock() < deadline:
            item = feed.get(0.2)
            if item is not None:
                take(*item, clock())
    finally:
        feed.close()


def wait_rollout(kube: "Kube", name: str, labels: str, watch: "JobWatch", *, timeout_s: float,
                 on_note: Callable[[str], None], clock: Callable[[], float] = time.monotonic,
                 sleep: Callable[[float], None] = time.sleep, poll_s: float = 5.0) -> None:
    """Wait until the Deployment runs its new pod template on every replica; stop early with
    the pods' diagnosis (image pull, unschedulable, crash loop) when it cannot get there."""
    from kit.cluster.jobwatch import HINTS

    start = clock()
    while True:
        dep = kube.get("apps/v1", "Deployment", name)
        if dep is None:
            raise KitError(f"Deployment/{name} does not exist", hint="run `kit up` again")
        spec, status = dep.get("spec") or {}, dep.get("status") or {}
        want = spec.get("replicas", 1)
        if status.get("observedGeneration", 0) >= (dep.get("metadata") or {}).get("generation", 0) \
                and status.get("updatedReplicas", 0) >= want \
                and status.get("availableReplicas", 0) >= want \
                and status.get("replicas", 0) <= status.get("updatedReplicas", 0):
            return
        now = clock() - start
        for pod in kube.list("v1", "Pod", labels=labels):
            for note in watch.feed({"type": "MODIFIED", "object": {"kind": "Pod", **pod}}, now):
                on_note(note)
        verdict = watch.verdict(now)
        if verdict is not None:
            raise KitError(f"Deployment/{name}: {verdict.message}", hint=verdict.hint)
        if now > timeout_s:
            raise KitError(f"Deployment/{name} is not ready after {timeout_s:.0f}s "
                           f"({status.get('availableReplicas', 0)}/{want} available)",
                           hint="kit logs --server; " + HINTS["unschedulable"].split(":")[0])
        sleep(poll_s)
