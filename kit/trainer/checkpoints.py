"""Finding the checkpoint to resume from, and keeping metrics.jsonl consistent with it.

A checkpoint folder is complete once the Trainer has written trainer_state.json (its last file)
and carries no JIT-checkpoint "incomplete" sentinel. A folder cut short by a crash is removed,
so the next save of that step starts clean.
"""

from __future__ import annotations

import json
import re
import shutil
from pathlib import Path

_NAME = re.compile(r"^checkpoint-(\d+)$")
INCOMPLETE_SENTINEL = "checkpoint-is-incomplete.txt"


def folder(output: Path) -> Path:
    return output / "checkpoints"


def _steps(root: Path) -> list[tuple[int, Path]]:
    if not root.is_dir():
        return []
    found = [(int(m.group(1)), p) for p in root.iterdir() if p.is_dir() and (m := _NAME.match(p.name))]
    return sorted(found)


def is_complete(path: Path) -> bool:
    return (path / "trainer_state.json").is_file() and not (path / INCOMPLETE_SENTINEL).exists()


def latest_complete(output: Path) -> Path | None:
    complete = [p for _, p in _steps(folder(output)) if is_complete(p)]
    return complete[-1] if complete else None


def discard_incomplete(output: Path) -> list[Path]:
    """Remove checkpoint folders a crash left half-written (rank 0 only)."""
    removed = [p for _, p in _steps(folder(output)) if not is_complete(p)]
    for path in removed:
        shutil.rmtree(path, ignore_errors=True)
    return removed


def step_of(checkpoint: Path) -> int:
    state = json.loads((checkpoint / "trainer_state.json").read_text(encoding="utf-8"))
    return int(state.get("global_step", 0))


def truncate_metrics(metrics: Path, step: int) -> None:
    """Drop records past `step`: a resumed run redoes those steps and logs them again."""
    if not metrics.is_file():
        return
    kept = []
    for line in metrics.read_text(encoding="utf-8").splitlines():
        try:
            record = json.loads(line)
        except json.JSONDecodeError:
            continue  # a line cut short by the crash
        if int(record.get("step", 0)) <= step:
            kept.append(json.dumps(record, separators=(",", ":")))
    tmp = metrics.with_suffix(".tmp")
    tmp.write_text("".join(k + "\n" for k in kept), encoding="utf-8")
    tmp.replace(metrics)
