"""Is a process still there, and is it still the one we started? Shared by run records and
the local server's pidfile: after a reboot a recorded pid may belong to another program,
which must never be mistaken for ours (or signalled)."""

from __future__ import annotations

import os
from pathlib import Path


def start_time(pid: int) -> str | None:
    """The kernel's start time of `pid` (clock ticks since boot, /proc/PID/stat field 22), or
    None where /proc is not available."""
    try:
        stat = Path(f"/proc/{pid}/stat").read_text()
    except OSError:
        return None
    after_comm = stat[stat.rindex(")") + 2:].split()  # comm may hold spaces and parentheses
    return after_comm[19] if len(after_comm) > 19 else None


def alive(pid: int | None, *, started: str | None = None, reap: bool = False) -> bool:
    """True while `pid` runs and, when `started` was recorded, is the same process.

    With reap, a child of this process that exited is reaped and counts as dead (a zombie
    still answers kill 0). Leave reap off for a child whose exit status someone else collects
    (subprocess.Popen.wait would lose it)."""
    if not pid:
        return False
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except PermissionError:  # exists, owned by someone else
        pass
    if started is not None and start_time(pid) not in (None, started):
        return False  # the pid was reused by another process
    if not reap:
        return True
    try:
        return os.waitpid(pid, os.WNOHANG) == (0, 0)
    except ChildProcessError:  # not our child: kill(0) already said it exists
        return True
