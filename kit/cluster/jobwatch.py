"""Pure logic of watching a fine-tune Job: Kubernetes watch events (Job, Pods, Events) and the
trainer's JSON log lines in; phase, progress, notes and a diagnosis out.

No Kubernetes client here: kit.cluster.kube produces the streams, this module decides what they mean,
so the decisions are tested against recorded event streams (tests/cluster/fixtures/).
Events are API JSON dicts, `{"type": "ADDED|MODIFIED|DELETED", "object": {...}}`; `now` is
the time an event was seen (seconds), which keeps the grace periods deterministic.
"""

from __future__ import annotations

import json
from collections import deque
from dataclasses import dataclass, field
from typing import Any

PENDING, RUNNING, SUCCEEDED, FAILED = "pending", "running", "succeeded", "failed"

# Trainer exit codes (kit/trainer/events.py; repeated because the trainer image may not ship
# this module and this module must not import the trainer).
EXIT_BAD_DATA, EXIT_OOM, EXIT_PREEMPTED = 3, 4, 143

IMAGE_WAITING = {"ErrImagePull", "ImagePullBackOff", "InvalidImageName", "ErrImageNeverPull"}
IMAGE_FATAL_WORDS = ("not found", "manifest unknown", "unauthorized", "denied", "forbidden",
                     "invalid reference")
DISRUPTIONS = {"PreemptionByScheduler": "preempted by a higher-priority pod",
               "DeletionByTaintManager": "its node was tainted out (spot reclaim or node failure)",
               "TerminationByKubelet": "its node shut down or ran out of resources",
               "EvictionByEvictionAPI": "evicted (node drain)",
               "DeletionByPodGC": "its node disappeared"}

# cause -> hint; {…} fields come from the diagnosis.
HINTS = {
    "oom-killed": "the {container} container hit its memory limit ({limit}): that is host RAM, "
                  "not GPU memory; use training.method qlora, a smaller training.max_length, or "
                  "more GPUs per node (pods get RAM per GPU)",
    "gpu-oom": "out of GPU memory: lower training.micro_batch_size or training.max_length, use "
               "training.method qlora, or a larger gpu.type",
    "image-pull": "the image cannot be pulled: check the images lock (.kit/<name>/images.json) "
                  "and that the registry mirror holds it (`kit images push`)",
    "unschedulable": "no node can take the pod: check gpu.type and gpu.count match the GPU pool, "
                     "the GPU quota (`kit doctor`), and that the NVIDIA device plugin runs",
    "deadline": "the Job ran past its deadline ({limit}s); `kit up` resumes the same run from its "
                "last uploaded checkpoint, or lower training.epochs",
    "preempted": "the GPU nodes kept being reclaimed; set gpu.spot: false, then `kit up` resumes "
                 "from the last checkpoint",
    "bad-data": "the trainer rejected the dataset: run `kit data validate` on data.uri",
    "staging": "the {container} init container could not copy its input: check the bucket URI "
               "and that the trainer's identity may read it",
    "config": "the pod cannot start: {message}",
    "crash-loop": "the server keeps restarting: see `kit logs --server`; OOMKilled means it needs "
                  "more memory (a larger gpu.type) or a shorter training.max_length",
    "trainer-error": "see the trainer's log lines above; the full log: `kit logs -F`",
}


@dataclass
class Diagnosis:
    cause: str
    message: str
    pod: str | None = None
    container: str | None = None
    limit: str | None = None

    @property
    def hint(self) -> str:
        return HINTS[self.cause].format(container=self.container or "trainer",
                                        limit=self.limit or "?", message=self.message)


@dataclass
class _Pod:
    name: str
    phase: str = "Pending"
    unschedulable_since: float | None = None
    unschedulable_msg: str = ""
    image_since: float | None = None
    image_msg: str = ""
    config_since: float | None = None
    config_msg: str = ""
    trainer_running: bool = False
    failure: Diagnosis | None = None
    disrupted: str | None = None


def _conditions(obj: dict[str, Any]) -> dict[str, dict[str, Any]]:
    return {c.get("type"): c for c in (obj.get("status") or {}).get("conditions") or []}


def _true(conds: dict[str, dict[str, Any]], kind: str) -> dict[str, Any] | None:
    cond = conds.get(kind)
    return cond if cond and cond.get("status") == "True" else None


def _limit(pod: dict[str, Any], container: str) -> str | None:
    spec = pod.get("spec") or {}
    for c in (spec.get("containers") or []) + (spec.get("initContainers") or []):
        if c.get("name") == container:
            return ((c.get("resources") or {}).get("limits") or {}).get("memory")
    return None


def pod_failure(pod: dict[str, Any]) -> Diagnosis | None:
    """Why a pod's containers stopped, if they stopped badly."""
    name = (pod.get("metadata") or {}).get("name")
    status = pod.get("status") or {}
    groups = [(s, True) for s in status.get("initContainerStatuses") or []] + \
             [(s, False) for s in status.get("containerStatuses") or []]
    for cs, init in groups:
        term = (cs.get("state") or {}).get("terminated")
        if not term or term.get("exitCode", 0) == 0:
            continue
        cname, code = cs.get("name"), term.get("exitCode")
        if term.get("reason") == "OOMKilled":
            return Diagnosis("oom-killed", f"{cname} was OOMKilled (exit {code})", name, cname,
                             _limit(pod, cname))
        if init:
            return Diagnosis("staging", f"init container {cname} failed (exit {code})", name, cname)
        if code == EXIT_BAD_DATA:
            return Diagnosis("bad-data", "the trainer rejected the dataset (exit 3)", name, cname)
        if code == EXIT_OOM:
            return Diagnosis("gpu-oom", "the trainer ran out of GPU memory (exit 4)", name, cname)
        if code == EXIT_PREEMPTED:
            return Diagnosis("preempted", "the trainer was stopped with SIGTERM (exit 143)", name, cname)
        return Diagnosis("trainer-error", f"{cname} exited with code {code}", name, cname)
    return None


class JobWatch:
    """Folds watch events of one Job, its pods and their Kubernetes Events into a state."""

    def __init__(self, job_name: str, *, unschedulable_grace_s: float = 600.0,
                 scale_up_grace_s: float = 1800.0, image_pull_grace_s: float = 120.0,
                 config_grace_s: float = 60.0) -> None:
        self.job_name = job_name
        self.grace = {"unschedulable": unschedulable_grace_s, "scale-up": scale_up_grace_s,
                      "image": image_pull_grace_s, "config": config_grace_s}
        self.phase = PENDING
        self.pods: dict[str, _Pod] = {}
        self.job: dict[str, Any] | None = None
        self.events: deque[str] = deque(maxlen=12)
        self.notes: list[str] = []
        self.scale_up = False
        self.no_scale_up: str | None = None
        self.image_fatal: tuple[str, str] | None = None
        self.crash: Diagnosis | None = None
        self.failed_pods: list[_Pod] = []
        self._seen_events: set[str] = set()

    # --- folding ---------------------------------------------------------------------

    def feed(self, event: dict[str, Any], now: float) -> list[str]:
        """Take one watch event; return the notes it produced (one line each)."""
        before = len(self.notes)
        obj = event.get("object") or {}
        kind = obj.get("kind")
        if kind == "Job":
            self._job(obj)
        elif kind == "Pod":
            self._pod(obj, event.get("type", "MODIFIED"), now)
        elif kind == "Event":
            self._event(obj)
        return self.notes[before:]

    def _job(self, job: dict[str, Any]) -> None:
        self.job = job
        conds = _conditions(job)
        status = job.get("status") or {}
        if _true(conds, "Complete") or _true(conds, "SuccessCriteriaMet"):
            self.phase = SUCCEEDED
        elif _true(conds, "Failed") or _true(conds, "FailureTarget"):
            self.phase = FAILED
        elif status.get("active") or status.get("ready"):
            self.phase = RUNNING if any(p.trainer_running for p in self.pods.values()) else self.phase

    def _pod(self, pod: dict[str, Any], kind: str, now: float) -> None:
        name = (pod.get("metadata") or {}).get("name", "?")
        state = self.pods.setdefault(name, _Pod(name))
        status = pod.get("status") or {}
        state.phase = status.get("phase", state.phase)
        conds = _conditions(pod)
        sched = conds.get("PodScheduled")
        if sched and sched.get("status") == "False" and sched.get("reason") == "Unschedulable":
            state.unschedulable_since = state.unschedulable_since or now
            state.unschedulable_msg = sched.get("message", "")
        elif sched and sched.get("status") == "True":
            state.unschedulable_since = None
        waiting = [((cs.get("state") or {}).get("waiting") or {}, cs.get("name"))
                   for cs in (status.get("initContainerStatuses") or []) +
                   (status.get("containerStatuses") or [])]
        image = [(w, n) for w, n in waiting if w.get("reason") in IMAGE_WAITING]
        if image:
            state.image_since = state.image_since or now
            w, n = image[0]
            state.image_msg = f"{n}: {w.get('reason')}: {w.get('message', '')}".strip(": ")
            if w.get("reason") == "InvalidImageName":
                self.image_fatal = (name, state.image_msg)
        else:
            state.image_since = None
        config = [(w, n) for w, n in waiting if w.get("reason") == "CreateContainerConfigError"]
        if config:
            state.config_since = state.config_since or now
            state.config_msg = f"{config[0][1]}: {config[0][0].get('message', '')}"
        else:
            state.config_since = None
        for cs in status.get("containerStatuses") or []:
            waiting_reason = ((cs.get("state") or {}).get("waiting") or {}).get("reason")
            if waiting_reason == "CrashLoopBackOff" and cs.get("restartCount", 0) >= 3:
                last = ((cs.get("lastState") or {}).get("terminated") or {})
                self.crash = Diagnosis("crash-loop", f"{cs.get('name')} restarted {cs['restartCount']} "
                                       f"times (last: {last.get('reason', '?')}, exit "
                                       f"{last.get('exitCode', '?')})", name, cs.get("name"))
        was_running = state.trainer_running
        state.trainer_running = any(cs.get("name") == "trainer" and (cs.get("state") or {}).get("running")
                                    for cs in status.get("containerStatuses") or [])
        if state.trainer_running and not was_running:
            self.phase = RUNNING
            self.notes.append(f"pod {name} is training on {(pod.get('spec') or {}).get('nodeName', '?')}")
        disrupted = _true(conds, "DisruptionTarget")
        if disrupted and not state.disrupted:
            why = DISRUPTIONS.get(disrupted.get("reason", ""), disrupted.get("reason", "disrupted"))
            state.disrupted = why
            self.notes.append(f"pod {name} was stopped: {why}; the Job starts a new pod that "
                              "resumes from the last checkpoint")
        if state.phase == "Failed" and state.failure is None:
            state.failure = pod_failure(pod)
            if state.disrupted and (state.failure is None or state.failure.cause == "trainer-error"):
                state.failure = Diagnosis("preempted", f"pod {name}: {state.disrupted}", name)
            if state.failure is None and status.get("reason"):
                reason = status["reason"]
                cause = "preempted" if reason in ("Evicted", "Preempting", "NodeShutdown",
                                                  "Terminated") else "trainer-error"
                state.failure = Diagnosis(cause, f"pod {name}: {reason}: {status.get('message', '')}"
                                          .strip(": "), name)
            if state.failure is not None:
                self.failed_pods.append(state)
                if not state.disrupted:
                    self.notes.append(f"pod {name} failed: {state.failure.message}")
        if kind == "DELETED" and state.phase not in ("Succeeded", "Failed") and not state.disrupted:
            state.disrupted = "deleted before it finished"
            self.notes.append(f"pod {name} was deleted before it finished (node gone?)")

    def _event(self, ev: dict[str, Any]) -> None:
        uid = (ev.get("metadata") or {}).get("uid") or json.dumps(ev, sort_keys=True)[:200]
        if uid in self._seen_events:
            return
        self._seen_events.add(uid)
        # core/v1 Events say message/involvedObject; events.k8s.io/v1 says note/regarding.
        reason = ev.get("reason", "")
        message = " ".join(str(ev.get("message") or ev.get("note") or "").split())
        involved = event_subject(ev)
        self.events.append(f"{ev.get('type', 'Normal')} {reason} {involved}: {message}")
        if reason == "TriggeredScaleUp":
            self.scale_up = True
            self.notes.append("the autoscaler is adding a GPU node (this takes a few minutes)")
        elif reason == "NotTriggerScaleUp":
            self.no_scale_up = message
        elif reason in ("Failed", "ErrImagePull") and "image" in message.lower() and \
                any(w in message.lower() for w in IMAGE_FATAL_WORDS):
            self.image_fatal = (involved, message)

    # --- conclusions -----------------------------------------------------------------

    @property
    def finished(self) -> bool:
        return self.phase in (SUCCEEDED, FAILED)

    def trainer_pod(self) -> str | None:
        """The pod whose trainer runs now (the newest one), for log streaming."""
        running = [p.name for p in self.pods.values() if p.trainer_running]
        return running[-1] if running else None

    def verdict(self, now: float) -> Diagnosis | None:
        """Why the run failed, or will not make progress without a fix; None while fine."""
        if self.phase == SUCCEEDED:
            return None
        if self.phase == FAILED:
            return self._failed()
        if self.crash:
            return self.crash
        if self.image_fatal:
            pod, message = self.image_fatal
            return Diagnosis("image-pull", message, pod)
        for pod in self.pods.values():
            if pod.image_since is not None and now - pod.image_since >= self.grace["image"]:
                return Diagnosis("image-pull", pod.image_msg, pod.name)
            if pod.config_since is not None and now - pod.config_since >= self.grace["config"]:
                return Diagnosis("config", pod.config_msg, pod.name)
            if pod.unschedulable_since is not None:
                if self.no_scale_up:
                    return Diagnosis("unschedulable", f"{pod.unschedulable_msg} (autoscaler: "
                                     f"{self.no_scale_up})", pod.name)
                wait = self.grace["scale-up" if self.scale_up else "unschedulable"]
                if now - pod.unschedulable_since >= wait:
                    return Diagnosis("unschedulable", f"{pod.unschedulable_msg} (pending "
                                     f"{now - pod.unschedulable_since:.0f}s)", pod.name)
        return None

    def _failed(self) -> Diagnosis:
        conds = _conditions(self.job or {})
        cond = _true(conds, "Failed") or _true(conds, "FailureTarget") or {}
        reason = cond.get("reason", "")
        if reason == "DeadlineExceeded":
            limit = ((self.job or {}).get("spec") or {}).get("activeDeadlineSeconds")
            return Diagnosis("deadline", cond.get("message") or "the Job passed its deadline",
                             limit=str(limit) if limit else None)
        failures = [p.failure for p in self.failed_pods if p.failure]
        if failures and all(f.cause == "preempted" for f in failures):
            return Diagnosis("preempted", f"{len(failures)} pod(s) stopped by node reclaims; "
                             f"the Job gave up ({reason or 'failed'})", failures[-1].pod)
        specific = [f for f in failures if f.cause != "preempted"]
        if specific:
            return specific[-1]
        return Diagnosis("trainer-error", cond.get("message") or f"the Job failed ({reason})")


@dataclass
class TrainerLog:
    """The trainer's pod log: JSON event lines drive progress; the rest is kept as a tail."""

    tail: deque = field(default_factory=lambda: deque(maxlen=40))
    step: int = 0
    total: int = 0
    loss: float | None = None
    eta_s: float | None = None
    error: str | None = None
    metrics: dict[str, Any] = field(default_factory=dict)
    done: bool = False

    def feed(self, line: str) -> dict[str, Any] | None:
        """Take one log line; return the trainer event it carried, if any."""
        text = line.rstrip("\n")
        event = None
        if text.startswith("{"):
            try:
                event = json.loads(text)
            except json.JSONDecodeError:
                event = None
        if not isinstance(event, dict) or "event" not in event:
            self.tail.append(text)
            return None
        kind = event["event"]
        if kind == "start":
            self.total = int(event.get("total_steps") or 0)
            self.step = int(event.get("resumed_from_step") or 0)
        elif kind == "step":
            self.step, self.total = int(event.get("step", self.step)), int(event.get("total") or self.total)
            self.loss = event.get("loss") if isinstance(event.get("loss"), (int, float)) else self.loss
            self.eta_s = event.get("eta_s")
        elif kind == "error":
            self.error = str(event.get("message") or "").strip() or None
            self.tail.append(f"error: {self.error}")
        elif kind == "done":
            self.done, self.metrics = True, dict(event.get("metrics") or {})
        return event


def event_subject(ev: dict[str, Any]) -> str:
    """The name of the object an Event is about, in either API's form (core/v1
    involvedObject, events.k8s.io/v1 regarding)."""
    return str((ev.get("involvedObject") or ev.get("regarding") or {}).get("name", ""))
