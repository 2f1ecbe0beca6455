"""One `kit up`/`kit down` at a time per deployment: an advisory lock file in its workdir.

While the lock is held the process runs with umask 077 and the workdir is 0700, so everything
the kit, its trainer and its server write there (staged data, runs, models, logs, state) is
readable by its owner only, whatever the user's umask."""

from __future__ import annotations

import fcntl
import os
from contextlib import contextmanager
from typing import Iterator

from kit.errors import KitError
from kit.workdir import Workdir, private_writes


@contextmanager
def deployment_lock(workdir: Workdir, action: str) -> Iterator[None]:
    with private_writes():
        workdir.make_private()
        with _held(workdir, action):
            yield


@contextmanager
def _held(workdir: Workdir, action: str) -> Iterator[None]:
    path = workdir.lock
    with path.open("a+") as fh:
        try:
            fcntl.flock(fh, fcntl.LOCK_EX | fcntl.LOCK_NB)
        except BlockingIOError:
            fh.seek(0)
            holder = fh.read().strip() or "another kit process"
            raise KitError(f"{workdir}: busy: {holder} is running on this deployment",
                           hint="wait for it to finish, or stop it first") from None
        fh.seek(0)
        fh.truncate()
        fh.write(f"`kit {action}` (pid {os.getpid()})")
        fh.flush()
        try:
            yield
        finally:
            fh.truncate(0)
            fcntl.flock(fh, fcntl.LOCK_UN)
