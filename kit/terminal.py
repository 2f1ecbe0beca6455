"""Where the kit's output goes: a person's terminal, or a log that captures it (CI, `| tee`,
a file). Captured output must stay copyable: no progress bars redrawn into it, no line broken
at 80 columns in the middle of a path or a run id, and commands it suggests that work.
"""

from __future__ import annotations

import os
import shutil
import sys
from pathlib import Path
from typing import TYPE_CHECKING

if TYPE_CHECKING:
    from rich.console import Console

# huggingface_hub's switch, which transformers (5.x) reads too, for their tqdm bars ("Writing
# model shards", "Loading weights"): https://huggingface.co/docs/huggingface_hub/package_reference/environment_variables#hfhubdisableprogressbars
# (read 2026-12-07). Set in the environment of a child process whose output is a log file.
NO_BARS = "HF_HUB_DISABLE_PROGRESS_BARS"


def quiet_when_captured() -> None:
    """No library progress bars in this process when stderr is not a terminal: huggingface_hub's
    own switch (disable_progress_bars, https://huggingface.co/docs/huggingface_hub/package_reference/utilities#configure-progress-bars,
    read 2026-12-07), which transformers (5.x) copies when imported, and transformers' own
    (transformers.utils.logging.disable_progress_bar) where it already is. Called where the kit is about to
    use those libraries (it imports huggingface_hub, so never at start-up: `kit --help` stays
    fast); the process environment is left as it was."""
    if not _isatty(sys.stderr):
        from huggingface_hub.utils import disable_progress_bars

        disable_progress_bars()
        if "transformers" in sys.modules:     # it read the hub's switch when imported, before now
            from transformers.utils import logging

            logging.disable_progress_bar()


def make_console(*, stderr: bool = False) -> "Console":
    """A rich Console that wraps lines only on a terminal: captured, each line is written
    whole, however long (a wrapped path or id cannot be pasted back)."""
    from rich.console import Console

    console = Console(stderr=stderr)
    console.soft_wrap = not console.is_terminal
    return console


def program() -> str:
    """How to name the kit in a command we suggest: `kit` when that is what runs, else the path
    the user ran it by (`.venv/bin/kit` after `make quickstart`, which puts nothing on PATH)."""
    argv0 = sys.argv[0] if sys.argv and sys.argv[0] else "kit"
    if Path(argv0).name == "__main__.py":          # python -m kit
        return "python -m kit"
    on_path = shutil.which("kit")
    if on_path and Path(argv0).name == "kit" and _same(on_path, argv0):
        return "kit"
    return argv0 if Path(argv0).name == "kit" else "kit"


def _same(a: str, b: str) -> bool:
    try:
        return os.path.samefile(a, b)
    except OSError:
        return False


def _isatty(stream) -> bool:
    try:
        return bool(stream.isatty())
    except (AttributeError, ValueError):
        return False
