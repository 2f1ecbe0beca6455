"""Run `python -m kit.trainer` as a subprocess and turn its JSON-lines events into progress.

The trainer speaks only JSON events on stdout (its logs go to stderr, saved as train.log), so
this side never scrapes text. The run is marked succeeded only if the trainer exits 0 and left
summary.json; a kill, a crash or Ctrl-C leaves it failed or interrupted, never good.
"""

from __future__ import annotations

import json
import os
import subprocess
import sys
import time
from pathlib import Path
from typing import Any

from rich.console import Console

from kit.errors import KitError
from kit.jsonio import read_json, write_json
from kit.process import start_time
from kit.progress import ProgressReporter, show_event
from kit.runs import FAILED, INTERRUPTED, SUCCEEDED, Run, RunStore
from kit.trainer.events import EXIT_BAD_DATA, EXIT_OOM

EXIT_REASONS = {EXIT_BAD_DATA: "the dataset is invalid", EXIT_OOM: "out of memory"}


def handle_event(line: str, reporter: ProgressReporter) -> str | None:
    """One line of the trainer's stdout: a JSON event, or noise to skip."""
    try:
        event = json.loads(line)
    except ValueError:
        return None
    return show_event(event, reporter) if isinstance(event, dict) else None


def run_trainer(store: RunStore, run: Run, spec: dict[str, Any], console: Console) -> Run:
    """Train `run` to the end (resuming its checkpoints), streaming progress. Raises on failure."""
    folder = store.dir(run.id)
    folder.mkdir(parents=True, exist_ok=True)
    spec_path = folder / "spec.json"
    write_json(spec_path, spec)
    (folder / "summary.json").unlink(missing_ok=True)  # only this attempt may mark success
    reporter = ProgressReporter(console)
    error: str | None = None
    env = {**os.environ, "HF_HUB_OFFLINE": "1", "HF_HUB_DISABLE_TELEMETRY": "1",
           "PYTHONUNBUFFERED": "1", "TOKENIZERS_PARALLELISM": "false"}
    with (folder / "train.log").open("ab") as log, (folder / "events.jsonl").open("a") as events:
        log.write(f"\n--- {time.strftime('%Y-%m-%d %H:%M:%S')} attempt\n".encode())
        log.flush()
        proc = subprocess.Popen([sys.executable, "-m", "kit.trainer", "--spec", str(spec_path)],
                                stdout=subprocess.PIPE, stderr=log, stdin=subprocess.DEVNULL,
                                env=env, text=True, bufsize=1)
        run.status, run.pid, run.finished, run.reason, run.exit_code = "running", proc.pid, None, None, None
        run.pid_started = start_time(proc.pid)
        store.save(run)
        try:
            assert proc.stdout is not None
            for line in proc.stdout:
                events.write(line)
                error = handle_event(line, reporter) or error
            code = proc.wait()
        except BaseException as exc:
            proc.terminate()
            try:
                proc.wait(timeout=30)
            except subprocess.TimeoutExpired:
                proc.kill()
            if isinstance(exc, KeyboardInterrupt):
                run.status, run.reason = INTERRUPTED, "interrupted by the user"
            else:
                run.status, run.reason = FAILED, f"the kit stopped following the trainer: {exc}"
            run.finished = time.time()
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


def model_dir(store: RunStore, run: Run) -> Path:
    folder = store.dir(run.id) / "model"
    if not (folder / "config.json").is_file():
        raise KitError(f"run {run.id} has no merged model in {folder}",
                       hint="start a new run: kit up")
    return folder
