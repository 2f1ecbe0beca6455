"""Port-forward through the Kubernetes API server, as `kubectl port-forward` does.

The server pods sit on a private network; relaying through the API server lets `kit chat`
and the smoke test reach them from any machine with a kubeconfig, no route to the pod needed.
"""

from __future__ import annotations

import select
import socket
import threading
from typing import Any, Callable


def port_forward(core: Any, namespace: str, pod: str, port: int) -> tuple[str, Callable[[], None]]:
    """Listen on 127.0.0.1:<free port>; each connection is relayed to pod:port through the
    API server (`core` is a CoreV1Api). Returns (base URL, close)."""
    from kubernetes.stream import portforward

    listener = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
    listener.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
    listener.bind(("127.0.0.1", 0))
    listener.listen(8)
    stop = threading.Event()

    def relay(conn: socket.socket) -> None:
        try:
            pf = portforward(core.connect_get_namespaced_pod_portforward, pod,
                             namespace, ports=str(port))
            remote = pf.socket(port)
            _pump(conn, remote, stop)
        except Exception:  # a failed connection is the client's error to see, not ours
            pass
        finally:
            conn.close()

    def serve() -> None:
        while not stop.is_set():
            try:
                conn, _ = listener.accept()
            except OSError:
                return
            threading.Thread(target=relay, args=(conn,), daemon=True).start()

    threading.Thread(target=serve, daemon=True, name=f"port-forward {pod}:{port}").start()

    def close() -> None:
        stop.set()
        listener.close()

    return f"http://127.0.0.1:{listener.getsockname()[1]}", close


def _pump(a: socket.socket, b: Any, stop: threading.Event) -> None:
    """Copy bytes both ways until either side closes."""
    while not stop.is_set():
        ready, _, _ = select.select([a, b], [], [], 1.0)
        for src in ready:
            data = src.recv(65536)
            if not data:
                return
            (b if src is a else a).sendall(data)
