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
    max_new_tokens: int | None = None   # the front's cap on one reply

    @property
    def endpoint(self) -> str:
        return f"http://{HOST}:{self.port}"


def port_in_use(port: int) -> bool:
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as sock:
        sock.settimeout(0.5)
        return sock.connect_ex((HOST, port)) == 0


def port_problem(port: int) -> str | None:
    """Why the front could not listen on 127.0.0.1:`port` now, or None. A trial bind as the
    front binds (address reuse on, as http.server sets it), so a listener on 0.0.0.0 or a port
    this user may not open counts too."""
    if port_in_use(port):
        return "is already in use by another program"
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as sock:
        sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        try:
            sock.bind((HOST, port))
        except OSError as exc:
            return f"cannot be opened ({exc.strerror or exc})"
    return None


def serve_executable() -> str:
    """`transformers` of this Python's environment (else on PATH), with the modules `transformers
    serve` refuses to start without (transformers.utils.import_utils.is_serve_available, 5.x);
    a one-line KitError naming the extra to install otherwise."""
    import importlib.util

    exe = shutil.which("transformers", path=str(Path(sys.executable).parent)) or shutil.which(
        "transformers")
    missing = [m for m in ("fastapi", "uvicorn", "openai", "pydantic") if importlib.util.find_spec(m) is None]
    if exe is None or missing:
        what = "`transformers serve` is not installed" if exe is None else \
            f"`transformers serve` needs {' and '.join(missing)}, not installed"
        raise KitError(what, hint="pip install 'lima-kit[serve]'")
    return exe


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

    def preflight(self, engine: str, port: int) -> str:
        """Every serve precondition, checked before anything long runs (`kit up` calls it
        before the fine-tune): the engine this target runs, installed, and the port free. This
        deployment's own server on that port is not in the way (it is stopped before the new
        one starts). Returns the engine's executable."""
        if engine != "transformers":
            raise KitError(f"serving.engine: {engine} needs a GPU container runtime; target "
                           "local serves with `transformers serve`",
                           hint="set serving.engine: transformers, or use target: kubernetes")
        exe = serve_executable()
        current = self.info()
        if current is None or current.port != port:
            problem = port_problem(port)
            if problem:
                raise KitError(f"serving.port: {HOST}:{port} {problem}",
                               hint="set serving.port in kit.yaml to a free port, or stop the "
                                    "program that holds it")
        return exe

    def start(self, model_dir: Path, run_id: str, port: int, name: str,
              max_new_tokens: int) -> ServerInfo:
        """`transformers serve` behind kit.local.front, which answers to `name` on `port` with
        at most `max_new_tokens` tokens a reply."""
        exe = self.preflight("transformers", port)
        self.folder.mkdir(parents=True, exist_ok=True)
        env = {**os.environ, "HF_HUB_OFFLINE": "1", "HF_HUB_DISABLE_TELEMETRY": "1",
               "TRANSFORMERS_OFFLINE": "1", "DO_NOT_TRACK": "1",
               "HF_HUB_DISABLE_PROGRESS_BARS": "1"}     # its stderr is a log file: no bars in it
        with self.log.open("ab") as log:
            log.write(f"\n--- {time.strftime('%Y-%m-%d %H:%M:%S')} serving {run_id}\n".encode())
            log.flush()
            proc = subprocess.Popen(
                [sys.executable, "-m", "kit.local.front", "--name", name, "--port", str(port),
                 "--model", str(model_dir), "--max-new-tokens", str(max_new_tokens),
                 "--serve", exe],
                stdin=subprocess.DEVNULL, stdout=log, stderr=subprocess.STDOUT, env=env,
                start_new_session=True,  # survives the kit process and its Ctrl-C
            )
        info = ServerInfo(pid=proc.pid, port=port, run_id=run_id, model_dir=str(model_dir),
                          started=start_time(proc.pid), max_new_tokens=max_new_tokens)
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
