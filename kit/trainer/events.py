"""Progress events (JSON lines on stdout), exit codes, and failure classification.

stdout belongs to the events alone: `Events.take_stdout()` keeps a private handle on the real
stdout and points file descriptor 1 (and sys.stdout) at stderr, so a library's print() or a C
extension's write can never corrupt the stream the local target and the Kubernetes log reader
parse. Only rank 0 emits.

Event kinds (each line `{"event": KIND, "time": unix seconds, ...fields}`):
  start       run_id, method, device, examples, total_steps, resumed_from_step
  step        step, total, epoch, loss, lr, tokens_per_s, eta_s
  eval        epoch, step, eval_loss (the held-out loss at an epoch's end)
  checkpoint  step, path
  error       kind (data | oom | other), message (one line)
  done        metrics (kit.trainer.artifacts.summarize, with the held-out "eval")
and one the kit adds when it shows a run's log (kit.logview), never the trainer:
  run         run_id, status, reason, exit_code, eval (the record: how it ended, the gate)
"""

from __future__ import annotations

import json
import math
import os
import sys
import threading
import time
from typing import IO, Any

EXIT_OK = 0
EXIT_FAILED = 1
EXIT_BAD_DATA = 3
EXIT_OOM = 4
# Preempted (SIGTERM): a checkpoint was saved if possible; rerun the same run id to resume.
# 128 + SIGTERM, the code a shell and Kubernetes report for a terminated process.
EXIT_PREEMPTED = 143

START, STEP, EVAL, CHECKPOINT, ERROR, DONE, RUN = (
    "start", "step", "eval", "checkpoint", "error", "done", "run")

KINDS = {"data": EXIT_BAD_DATA, "oom": EXIT_OOM, "other": EXIT_FAILED}


class Preempted(Exception):
    """Training stopped on SIGTERM before the last step; not a success."""


def _clean(value: Any) -> Any:
    if isinstance(value, float) and not math.isfinite(value):
        return None
    if isinstance(value, dict):
        return {k: _clean(v) for k, v in value.items()}
    if isinstance(value, (list, tuple)):
        return [_clean(v) for v in value]
    return value


class Events:
    """Writes one JSON object per line, flushed, to the real stdout (rank 0 only)."""

    def __init__(self, stream: IO[str] | None, enabled: bool = True) -> None:
        self._stream = stream
        self.enabled = enabled and stream is not None
        self._lock = threading.Lock()

    @classmethod
    def take_stdout(cls, enabled: bool = True) -> "Events":
        """Own the real stdout for events; send everything else written to stdout to stderr."""
        sys.stdout.flush()
        real = os.dup(1)
        os.dup2(2, 1)
        sys.stdout = sys.stderr
        return cls(os.fdopen(real, "w", buffering=1, encoding="utf-8"), enabled)

    def emit(self, event: str, **fields: Any) -> None:
        if not self.enabled:
            return
        record = {"event": event, "time": round(time.time(), 3), **fields}
        line = json.dumps(_clean(record), separators=(",", ":"), default=str)
        with self._lock:
            try:
                self._stream.write(line + "\n")
                self._stream.flush()
            except (BrokenPipeError, ValueError):
                # Nobody reads any more (the local kit died): stop emitting, but keep going, so
                # a SIGTERM that follows (kit.process.die_with_parent) still saves a checkpoint
                # rather than a write killing the run mid-step.
                self.enabled = False

    def error(self, kind: str, message: str) -> None:
        self.emit("error", kind=kind, message=" ".join(str(message).split())[:500])


def _is_oom(exc: BaseException) -> bool:
    if isinstance(exc, MemoryError):
        return True
    names = {cls.__name__ for cls in type(exc).__mro__}
    if "OutOfMemoryError" in names:
        return True
    text = str(exc).lower()
    return isinstance(exc, RuntimeError) and ("out of memory" in text or "can't allocate memory" in text)


def classify(exc: BaseException) -> tuple[str, int, str]:
    """(event kind, exit code, one-line reason) for an exception that ended the run."""
    from kit.errors import KitError

    if isinstance(exc, Preempted):
        return "other", EXIT_PREEMPTED, str(exc)
    if _is_oom(exc):
        return "oom", EXIT_OOM, (f"out of memory: {str(exc).splitlines()[0] if str(exc) else type(exc).__name__}"
                                 " (lower training.micro_batch_size or max_length, or use method qlora)")
    try:
        from kit.data.formats import DataError
    except ImportError:  # pragma: no cover - kit.data is part of the package
        DataError = ()  # type: ignore[assignment]
    if DataError and isinstance(exc, DataError):
        return "data", EXIT_BAD_DATA, exc.one_line()
    if isinstance(exc, KitError):
        return "other", EXIT_FAILED, exc.one_line()
    if isinstance(exc, KeyboardInterrupt):
        return "other", EXIT_FAILED, "interrupted"
    first = str(exc).strip().splitlines()[0] if str(exc).strip() else ""
    return "other", EXIT_FAILED, f"{type(exc).__name__}: {first}" if first else type(exc).__name__
