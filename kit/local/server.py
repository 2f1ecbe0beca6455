"""`transformers serve` as a background process on 127.0.0.1, tracked by a pidfile.

The server outlives `kit up` (it is the deployment on the local target). Its record
(`server.json`: pid, port, run id, model path) lets `kit status`, `kit chat` and `kit down` find
it; the log goes to `server.log`. It binds to loopback only: on this target nothing listens on
a network interface.
"""

from __future__ import annotations

import os
import shutil
import signal
import socket
import subprocess
import sys
import time
from dataclasses import dataclass
from pathlib import Path

from kit.errors import KitError
from kit.jsonio import read_json, write_json
from kit.process import alive, start_time

HOST = "127.0.0.1"


@dataclass
class ServerInfo:
    pid: int
    port: int
    run_id: str
    model_dir: str
    started: str | None = None  # the process's start time: a reused pid is not our server

    @property
    def endpoint(self) -> str:
        return f"http://{HOST}:{self.port}"


def port_in_use(port: int) -> bool:
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as sock:
        sock.settimeout(0.5)
        return sock.connect_ex((HOST, port)) == 0


class LocalServer:
    def __init__(self, folder: Path) -> None:
        self.folder = folder
        self.record = folder / "server.json"
        self.log = folder / "server.log"

    def info(self) -> ServerInfo | None:
        """The running server, or None (a stale record is removed)."""
        data = read_json(self.record)
        if not data:
            return None
        info = ServerInfo(**{k: v for k, v in data.items() if k in ServerInfo.__dataclass_fields__})
        if alive(info.pid, started=info.started, reap=True):
            return info
        self.record.unlink(missing_ok=True)
        return None

    def start(self, model_dir: Path, run_id: str, port: int, name: str) -> ServerInfo:
        """`transformers serve` behind kit.local.front, which answers to `name` on `port`."""
        if port_in_use(port):
            raise KitError(f"port {HOST}:{port} is already in use by another program",
                           hint="set serving.port in kit.yaml to a free port")
        exe = shutil.which("transformers", path=str(Path(sys.executable).parent)) or shutil.which(
            "transformers")
        if exe is None:
            raise KitError("`transformers serve` is not installed",
                           hint="pip install 'lima-kit[serve]'")
        self.folder.mkdir(parents=True, exist_ok=True)
        env = {**os.environ, "HF_HUB_OFFLINE": "1", "HF_HUB_DISABLE_TELEMETRY": "1",
               "TRANSFORMERS_OFFLINE": "1", "DO_NOT_TRACK": "1"}
        with self.log.open("ab") as log:
            log.write(f"\n--- {time.strftime('%Y-%m-%d %H:%M:%S')} serving {run_id}\n".encode())
            log.flush()
            proc = subprocess.Popen(
                [sys.executable, "-m", "kit.local.front", "--name", name, "--port", str(port),
                 "--model", str(model_dir), "--serve", exe],
                stdin=subprocess.DEVNULL, stdout=log, stderr=subprocess.STDOUT, env=env,
                start_new_session=True,  # survives the kit process and its Ctrl-C
            )
        info = ServerInfo(pid=proc.pid, port=port, run_id=run_id, model_dir=str(model_dir),
                          started=start_time(proc.pid))
        write_json(self.record, info.__dict__)
        return info

    def stop(self, timeout_s: float = 20.0) -> bool:
        """Stop the server and wait until its port is free. True if one was running."""
        info = self.info()
        if info is None:
            return False
        try:
            os.killpg(info.pid, signal.SIGTERM)
        except ProcessLookupError:
            pass
        deadline = time.monotonic() + timeout_s
        running = lambda: alive(info.pid, started=info.started, reap=True)  # noqa: E731
        while time.monotonic() < deadline and (running() or port_in_use(info.port)):
            time.sleep(0.2)
        if running():
            try:
                os.killpg(info.pid, signal.SIGKILL)
            except ProcessLookupError:
                pass
            time.sleep(0.5)
        self.record.unlink(missing_ok=True)
        return True
