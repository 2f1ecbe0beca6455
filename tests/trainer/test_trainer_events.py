"""Failure classification: exit codes and one-line reasons."""

from __future__ import annotations

import io
import json

from kit.data.formats import DataError
from kit.errors import KitError
from kit.trainer.events import (
    EXIT_BAD_DATA,
    EXIT_FAILED,
    EXIT_OOM,
    EXIT_PREEMPTED,
    Events,
    Preempted,
    classify,
)


class OutOfMemoryError(RuntimeError):  # the name torch.OutOfMemoryError has
    pass


def test_exit_codes_are_distinct():
    assert len({0, EXIT_FAILED, EXIT_BAD_DATA, EXIT_OOM, EXIT_PREEMPTED}) == 5


def test_classify():
    assert classify(DataError("a.jsonl:3: bad"))[:2] == ("data", EXIT_BAD_DATA)
    assert classify(OutOfMemoryError("CUDA out of memory. Tried to allocate 2 GiB"))[:2] == ("oom", EXIT_OOM)
    assert classify(RuntimeError("DefaultCPUAllocator: can't allocate memory"))[:2] == ("oom", EXIT_OOM)
    assert classify(MemoryError())[:2] == ("oom", EXIT_OOM)
    assert classify(KitError("x: wrong", hint="fix"))[:3] == ("other", EXIT_FAILED, "x: wrong (hint: fix)")
    assert classify(Preempted("preempted"))[:2] == ("other", EXIT_PREEMPTED)
    kind, code, message = classify(ValueError("first line\nsecond line"))
    assert (kind, code, message) == ("other", EXIT_FAILED, "ValueError: first line")


def test_events_are_single_json_lines_and_errors_one_line():
    out = io.StringIO()
    events = Events(out)
    events.emit("step", step=1, loss=float("nan"))
    events.error("other", "two\nlines")
    lines = out.getvalue().splitlines()
    records = [json.loads(line) for line in lines]
    assert len(lines) == 2 and all(isinstance(r.pop("time"), float) for r in records)  # stamped
    assert records == [{"event": "step", "step": 1, "loss": None},
                       {"event": "error", "kind": "other", "message": "two lines"}]
    silent = io.StringIO()
    Events(silent, enabled=False).emit("step", step=1)  # ranks other than 0
    assert silent.getvalue() == ""
