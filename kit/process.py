"""Is a process still there, and is it still the one we started? Shared by run records and
the local server's pidfile: after a reboot a recorded pid may belong to another program,
which must never be mistaken for ours (or signalled). And stopping a child we started (the
local trainer) with everything it started, when this process is asked to stop."""

from __future__ import annotations

import os
from contextlib import contextmanager
from pathlib import Path
from typing import TYPE_CHECKING, Callable, Iterator

if TYPE_CHECKING:
    import subprocess


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


# --- stopping a child we started --------------------------------------------------------

class Stopped(BaseException):
    """This process was asked to stop (SIGTERM, SIGHUP) while it waited on a child: raised in
    the main thread, like KeyboardInterrupt for Ctrl-C, so the child is stopped and recorded."""

    def __init__(self, signum: int) -> None:
        import signal

        super().__init__(signal.Signals(signum).name)
        self.signum = signum


@contextmanager
def stop_signals() -> Iterator[None]:
    """SIGTERM and SIGHUP raise `Stopped` in the main thread while the block runs (the default
    would end this process at once and leave its children running). A no-op off the main thread."""
    import signal
    import threading

    if threading.current_thread() is not threading.main_thread():
        yield
        return

    def raise_stopped(signum, frame):
        raise Stopped(signum)

    wanted = [signal.SIGTERM] + ([signal.SIGHUP] if hasattr(signal, "SIGHUP") else [])
    previous = {sig: signal.signal(sig, raise_stopped) for sig in wanted}
    try:
        yield
    finally:
        for sig, handler in previous.items():
            signal.signal(sig, handler)


def die_with_parent() -> "Callable[[], None] | None":
    """For Popen's preexec_fn: on Linux, the child gets SIGTERM when this process dies, however
    it dies (SIGKILL, the OOM killer), so a child in its own process group is never orphaned.
    None elsewhere. prctl(2) PR_SET_PDEATHSIG: https://man7.org/linux/man-pages/man2/prctl.2.html
    (read 2026-12-07)."""
    import sys

    if not sys.platform.startswith("linux"):
        return None
    import ctypes
    import signal

    libc = ctypes.CDLL(None, use_errno=True)
    parent = os.getpid()

    def preexec() -> None:
        libc.prctl(1, signal.SIGTERM, 0, 0, 0)       # PR_SET_PDEATHSIG = 1
        if os.getppid() != parent:                   # it died before the line above ran
            os.kill(os.getpid(), signal.SIGTERM)

    return preexec


def stop_group(proc: "subprocess.Popen", *, grace_s: float) -> int:
    """Stop a child started in its own process group (`process_group=0`), and everything it
    started: SIGTERM to the group, up to `grace_s` for it to save and exit, then SIGKILL. Being
    asked to stop again (Ctrl-C, SIGTERM) cuts the grace short. Returns the child's exit code."""
    import signal
    import subprocess

    def signal_group(sig: int) -> None:
        try:
            os.killpg(proc.pid, sig)
        except (ProcessLookupError, PermissionError):
            pass

    signal_group(signal.SIGTERM)
    try:
        return proc.wait(timeout=grace_s)
    except (subprocess.TimeoutExpired, KeyboardInterrupt, Stopped):
        pass
    signal_group(signal.SIGKILL)
    return proc.wait()
