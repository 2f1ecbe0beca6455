"""Is a process still there? Shared by run records and the local server's pidfile."""

from __future__ import annotations

import os


def alive(pid: int | None, *, reap: bool = False) -> bool:
    """True while `pid` runs. With reap, a child of this process that exited is reaped and
    counts as dead (a zombie still answers kill 0). Leave reap off for a child whose exit
    status someone else collects (subprocess.Popen.wait would lose it)."""
    if not pid:
        return False
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except PermissionError:  # exists, owned by someone else
        return True
    if not reap:
        return True
    try:
        return os.waitpid(pid, os.WNOHANG) == (0, 0)
    except ChildProcessError:  # not our child: kill(0) already said it exists
        return True
