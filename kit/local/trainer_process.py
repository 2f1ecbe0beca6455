"""Run `python -m kit.trainer` as a subprocess and turn its JSON-lines events into progress.

The trainer speaks only JSON events on stdout (its logs go to stderr, saved as train.log), so
this side never scrapes text. The run is marked succeeded only if the trainer exits 0 and left
summary.json; a kill, a crash or Ctrl-C leaves it failed or interrupted, never good.
`kit logs` reads the events back (kit.logview).
"""

from __future__ import annotations

import json
import os
import subprocess
import sys
import threading
import time
from pathlib import Path
from typing import Any, Callable, Iterator

from rich.console import Console

from kit.errors import Interrupted, KitError
from kit.jsonio import read_json, write_json
from kit.layout.buckets import MERGED_SUBDIR
from kit.pipeline.ledger import FAILED, INTERRUPTED, RUNNING, SUCCEEDED, Run, RunStore
from kit.process import Stopped, alive, die_with_parent, start_time, stop_group, stop_signals
from kit.progress import ProgressReporter, show_event
from kit.trainer.events import EXIT_BAD_DATA, EXIT_OOM

# How long a stopped trainer may take to save its checkpoint and exit before it is killed.
STOP_GRACE_S = 120.0
EXIT_REASONS = {EXIT_BAD_DATA: "the dataset is invalid", EXIT_OOM: "out of memory"}


def handle_event(line: str, reporter: ProgressReporter) -> str | None:
    """One line of the trainer's stdout: a JSON event, or noise to skip."""
    try:
        event = json.loads(line)
    except ValueError:
        return None
    return show_event(event, reporter) if isinstance(event, dict) else None


def run_trainer(store: RunStore, run: Run, spec: dict[str, Any], console: Console) -> Run:
    """Train `run` to the end (resuming its checkpoints), streaming progress. Raises on failure.

    The trainer runs in its own process group, so a Ctrl-C in the terminal reaches this process
    only: the kit then stops the trainer's whole group with SIGTERM (it saves a checkpoint, as on
    a preempted node), waits for it, records the run interrupted and says what was kept. SIGTERM
    and SIGHUP to the kit do the same, and a kit killed outright takes the trainer with it
    (die_with_parent), so a stopped `kit up` never leaves a trainer behind."""
    folder = store.dir(run.id)
    folder.mkdir(parents=True, exist_ok=True)
    spec_path = folder / "spec.json"
    write_json(spec_path, spec)
    (folder / "summary.json").unlink(missing_ok=True)  # only this attempt may mark success
    reporter = ProgressReporter(console)
    error: str | None = None
    env = {**os.environ, "HF_HUB_OFFLINE": "1", "HF_HUB_DISABLE_TELEMETRY": "1",
           "PYTHONUNBUFFERED": "1", "TOKENIZERS_PARALLELISM": "false",
           "HF_HUB_DISABLE_PROGRESS_BARS": "1"}     # its stderr is a log file: no bars in it
    # train.log holds what a trainer pod's log holds: its stderr and its event lines, in order
    # (`kit logs --raw`); events.jsonl the events alone (`kit logs`).
    with (folder / "train.log").open("ab") as log, (folder / "events.jsonl").open("a") as events:
        log.write(f"\n--- {time.strftime('%Y-%m-%d %H:%M:%S')} attempt\n".encode())
        log.flush()
        proc = subprocess.Popen([sys.executable, "-m", "kit.trainer", "--spec", str(spec_path)],
                                stdout=subprocess.PIPE, stderr=log, stdin=subprocess.DEVNULL,
                                env=env, text=True, bufsize=1, process_group=0,
                                preexec_fn=die_with_parent())
        run.status, run.pid, run.finished, run.reason, run.exit_code = "running", proc.pid, None, None, None
        run.pid_started = start_time(proc.pid)
        store.save(run)

        def record(line: str) -> str | None:
            events.write(line)
            events.flush()
            log.write(line.encode())
            log.flush()
            return handle_event(line, reporter)

        try:
            assert proc.stdout is not None
            with stop_signals():
                try:
                    for line in proc.stdout:
                        error = record(line) or error
                    code = proc.wait()
                except BaseException:
                    # What it says while stopping (its checkpoint, how it ended) is recorded as
                    # it comes, so `kit logs -F` shows it too.
                    drain = threading.Thread(target=lambda: [record(line) for line in proc.stdout],
                                             daemon=True)
                    drain.start()
                    code = stop_group(proc, grace_s=STOP_GRACE_S)
                    drain.join(timeout=10)
                    raise
        except BaseException as exc:
            reporter.stop()
            run.exit_code, run.finished, run.pid = proc.returncode, time.time(), None
            if isinstance(exc, (KeyboardInterrupt, Stopped)):
                raise interrupted(store, run, exc) from None
            run.status, run.reason = FAILED, f"the kit stopped following the trainer: {exc}"
            store.save(run)
            raise
        finally:
            reporter.stop()
    summary = read_json(folder / "summary.json")
    run.exit_code, run.finished, run.pid = code, time.time(), None
    if code == 0 and summary and summary.get("status") == "succeeded":
        run.status, run.metrics = SUCCEEDED, summary.get("metrics", {})
        store.save(run)
        return run
    run.status = FAILED
    run.reason = error or EXIT_REASONS.get(code) or (
        f"the trainer exited with code {code}" if code else "the trainer wrote no summary")
    store.save(run)
    raise KitError(f"fine-tune {run.id} failed: {run.reason}",
                   hint=f"full log: kit logs {run.id}")


def interrupted(store: RunStore, run: Run, cause: BaseException) -> Interrupted:
    """Record a run the user stopped, and the error that says what was kept and how to go on."""
    from kit.trainer.checkpoints import latest_complete, step_of

    folder = store.dir(run.id)
    step, total = last_step(folder / "events.jsonl")
    latest = latest_complete(folder)
    kept = step_of(latest) if latest is not None else None
    how = "Ctrl-C" if isinstance(cause, KeyboardInterrupt) else f"{cause} to the kit"
    at = f" at step {step}/{total}" if step is not None and total else ""
    where = (f"checkpoint at step {kept} kept" if kept is not None else
             "no checkpoint yet")
    run.status, run.reason = INTERRUPTED, f"stopped by {how}{at}; {where}"
    store.save(run)
    hint = (f"`kit up` resumes run {run.id} from step {kept}" if kept is not None else
            "`kit up` starts the fine-tune again")
    code = 130 if isinstance(cause, KeyboardInterrupt) else 128 + getattr(cause, "signum", 15)
    return Interrupted(f"fine-tune {run.id} stopped by {how}{at}; {where}", hint=hint,
                       exit_code=code)


def last_step(events: Path) -> tuple[int | None, int | None]:
    """The last step and total the trainer reported in an events file."""
    from kit.logview import parse

    step = total = None
    if events.is_file():
        for line in events.read_text(encoding="utf-8", errors="replace").splitlines():
            event = parse(line) or {}
            if event.get("event") == "start":
                step, total = event.get("resumed_from_step") or step, event.get("total_steps")
            elif event.get("event") == "step":
                step, total = event.get("step"), event.get("total") or total
    return step, total


def model_dir(store: RunStore, run: Run) -> Path:
    folder = store.dir(run.id) / MERGED_SUBDIR
    if not (folder / "config.json").is_file():
        raise KitError(f"run {run.id} has no merged model in {folder}",
                       hint="start a new run: kit up")
    return folder


def log_lines(store: RunStore, run_id: str | None, *, follow: bool, raw: bool) -> Iterator[str]:
    """`kit logs` of a local run (default: the latest): its events, then the kit's closing
    event from the run record; with raw, its train.log as written (stderr and events)."""
    from kit.logview import run_event, tail

    run = store.get(run_id) if run_id else next(iter(store.list()), None)
    if run is None:
        raise KitError("no runs yet", hint="start one with `kit up`")
    path = store.dir(run.id) / ("train.log" if raw else "events.jsonl")
    if not path.exists() and run.status != RUNNING:
        raise KitError(f"run {run.id} has no log at {path}",
                       hint="it stopped before its trainer started; see `kit runs`")
    yield from tail(path, follow=follow, alive=_recording(store, run.id), wait_for_file=True)
    if not raw:
        yield run_event(store.get(run.id).to_dict(store.root))


def _recording(store: RunStore, run_id: str, grace_s: float = 10.0) -> Callable[[], bool]:
    """Whether the run is still going, for a follower: its trainer runs, or has just ended and
    the kit that ran it has not yet recorded how (a few seconds at most; a run left `running`
    longer than that was killed with its kit, and settles as interrupted)."""
    gone_since: list[float] = []

    def going() -> bool:
        record = read_json(store.dir(run_id) / "run.json") or {}
        if record.get("status") != RUNNING:
            return False
        if alive(record.get("pid"), started=record.get("pid_started")):
            return True
        gone_since[:] = gone_since or [time.monotonic()]
        return time.monotonic() - gone_since[0] < grace_s

    return going
