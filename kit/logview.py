"""`kit logs`: the story of a fine-tune run, one readable line per trainer event.

The trainer's JSON-lines events (kit.trainer.events) are the one source on every target: the
local target keeps them in the run's events.jsonl; on a cluster they are the JSON lines of the
trainer pod's log, mixed with its stderr. Both go through `story`, so `kit logs` reads the same
everywhere, live (`-F`, like `kubectl logs -f`) and afterwards. Anything that is not an event
(library warnings, tracebacks of earlier attempts) is left out unless the user asks for --raw.
"""

from __future__ import annotations

import json
import time
from pathlib import Path
from typing import Any, Callable, Iterable, Iterator

from kit.trainer.events import RUN

POLL_S = 0.25


def parse(line: str) -> dict[str, Any] | None:
    """The trainer event a log line carries, or None for any other line."""
    text = line.strip()
    if not text.startswith("{"):
        return None
    try:
        event = json.loads(text)
    except ValueError:
        return None
    return event if isinstance(event, dict) and isinstance(event.get("event"), str) else None


def _num(value: Any, spec: str) -> str | None:
    return format(value, spec) if isinstance(value, (int, float)) and not isinstance(value, bool) else None


def _duration(seconds: Any) -> str | None:
    if not isinstance(seconds, (int, float)):
        return None
    seconds = int(round(seconds))
    hours, rest = divmod(seconds, 3600)
    minutes, secs = divmod(rest, 60)
    return f"{hours}h{minutes:02d}m" if hours else f"{minutes}m{secs:02d}s" if minutes else f"{secs}s"


def _join(*parts: str | None) -> str:
    return "  ".join(p for p in parts if p)


def _start(e: dict[str, Any]) -> str:
    line = (f"started: {e.get('method') or 'training'} on {e.get('device') or '?'}, "
            f"{e.get('examples', '?')} examples, {e.get('total_steps', '?')} steps")
    if e.get("resumed_from_step"):
        line += f", resuming from step {e['resumed_from_step']}"
    return line


def _step(e: dict[str, Any]) -> str:
    total = f"/{e['total']}" if e.get("total") else ""
    tps = _num(e.get("tokens_per_s"), ",.0f")
    eta = _duration(e.get("eta_s"))
    return _join(f"step {e.get('step', '?')}{total}",
                 f"epoch {_num(e.get('epoch'), '.2f')}" if _num(e.get("epoch"), ".2f") else None,
                 f"loss {_num(e.get('loss'), '.4f')}" if _num(e.get("loss"), ".4f") else None,
                 f"lr {_num(e.get('lr'), '.2e')}" if _num(e.get("lr"), ".2e") else None,
                 f"{tps} tokens/s" if tps else None, f"eta {eta}" if eta else None)


def _eval(e: dict[str, Any]) -> str:
    loss = _num(e.get("eval_loss"), ".4f")
    if e.get("step") == 0:      # measured before the first step: the base model's
        return f"base model before training: held-out loss {loss or '?'}"
    where = f"epoch {_num(e.get('epoch'), '.2f')}" if _num(e.get("epoch"), ".2f") else "evaluation"
    return f"{where} (step {e.get('step', '?')}): held-out loss {loss or '?'}"


def _done(e: dict[str, Any]) -> str:
    m = e.get("metrics") or {}
    first, last = _num(m.get("loss_first"), ".4f"), _num(m.get("loss_last"), ".4f")
    held = m.get("eval") or {}
    base, tuned = _num(held.get("base_loss"), ".4f"), _num(held.get("tuned_loss"), ".4f")
    return _join("finished",
                 f"{m['steps']} steps" if m.get("steps") else None,
                 f"loss {first} -> {last}" if first and last else None,
                 f"held-out loss {base} (base model) -> {tuned} (tuned)" if base and tuned else None,
                 f"{_num(m.get('tokens_per_s'), ',.0f')} tokens/s" if _num(m.get("tokens_per_s"), ",.0f")
                 else None)


def _error(e: dict[str, Any]) -> str:
    message = str(e.get("message") or "").strip() or "no reason given"
    stopped = message.startswith(("preempted", "interrupted"))
    return f"{'stopped' if stopped else 'failed'}: {message}"


def _gate(run: dict[str, Any]) -> str | None:
    """What the evaluation gate checked (kit.pipeline.gate.judge) and what it found."""
    held = run.get("eval") or {}
    base, tuned = _num(held.get("base_loss"), ".4f"), _num(held.get("tuned_loss"), ".4f")
    ratio = held.get("max_loss_ratio")
    bound = f"{ratio:g} x" if isinstance(ratio, (int, float)) else "at most"
    if held.get("passed") is True:
        return f"held-out check passed: loss {tuned} <= {bound} the base model's {base}"
    if held.get("passed") is False and run.get("status") != "rejected":
        return (f"held-out check failed: loss {tuned} > {bound} the base model's {base} "
                "(eval.gate is off, so it may be served)")
    return None


def _run(e: dict[str, Any]) -> str:
    """The kit's closing line, from the run record (kit.trainer.events.RUN)."""
    status, run_id, reason = e.get("status"), e.get("run_id"), e.get("reason")
    if status == "running":
        return f"run {run_id} is still training (follow it: kit logs -F {run_id})"
    if status == "succeeded":
        return f"run {run_id} succeeded" + (f"; {_gate(e)}" if _gate(e) else "")
    if status == "rejected":
        return f"run {run_id} rejected by the evaluation gate: {reason}"
    return f"run {run_id} {status}" + (f": {reason}" if reason else "")


FORMATS: dict[str, Callable[[dict[str, Any]], str]] = {
    "start": _start, "step": _step, "eval": _eval, "done": _done, "error": _error,
    "checkpoint": lambda e: f"checkpoint saved at step {e.get('step', '?')}",
    RUN: _run,
}


def describe(event: dict[str, Any]) -> str:
    """One line for one event; an event kind this kit does not know is shown as its fields."""
    kind = event.get("event")
    try:
        text = FORMATS[kind](event) if kind in FORMATS else _join(
            str(kind), " ".join(f"{k}={v}" for k, v in event.items() if k not in ("event", "time")))
    except (TypeError, ValueError, KeyError, AttributeError):
        text = f"{kind}: {json.dumps(event, default=str)}"
    stamp = event.get("time")
    if isinstance(stamp, (int, float)):
        text = time.strftime("%H:%M:%S ", time.localtime(stamp)) + text
    return text


def story(lines: Iterable[str], *, output: str = "text") -> Iterator[str]:
    """The events among `lines`: one readable line each (`text`) or the event as compact JSON
    (`json`); every other line is dropped."""
    for line in lines:
        event = parse(line)
        if event is None:
            continue
        yield json.dumps(event, separators=(",", ":"), default=str) if output == "json" else describe(event)


def run_event(run: dict[str, Any]) -> str:
    """The closing event of a run's log, from its record: how it ended and the gate's verdict."""
    return json.dumps({"event": RUN, "run_id": run.get("id"), "status": run.get("status"),
                       "reason": run.get("reason"), "exit_code": run.get("exit_code"),
                       "eval": run.get("eval") or {}, "time": run.get("finished")},
                      separators=(",", ":"), default=str)


def tail(path: Path, *, follow: bool, alive: Callable[[], bool], poll_s: float = POLL_S,
         wait_for_file: bool = False) -> Iterator[str]:
    """The lines of `path`; with follow, new lines as they are written, until `alive()` says the
    writer is done (then whatever it wrote last is read too). A line is yielded whole: a
    half-written one waits for its newline."""
    while not path.exists():
        if not (follow and wait_for_file and alive()):
            return
        time.sleep(poll_s)
    with path.open("r", encoding="utf-8", errors="replace") as fh:
        pending = ""
        while True:
            chunk = fh.readline()
            if chunk:
                pending += chunk
                if pending.endswith("\n"):
                    yield pending.rstrip("\n")
                    pending = ""
                continue
            if follow and alive():
                time.sleep(poll_s)
                continue
            rest = fh.read()        # written between the last read and the writer's end
            for line in (pending + rest).splitlines():
                yield line
            return
