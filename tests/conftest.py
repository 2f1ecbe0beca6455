"""Shared test helpers."""

from __future__ import annotations

import os
import socket
import subprocess
import sys
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[1]


def run_kit(*args: str, cwd: Path | None = None, env: dict | None = None,
            timeout: float = 600) -> subprocess.CompletedProcess:
    """Run the real `kit` entry point in a subprocess, as a user would."""
    return subprocess.run([sys.executable, "-m", "kit", *args], cwd=cwd or ROOT,
                          capture_output=True, text=True, timeout=timeout,
                          env={**os.environ, "NO_COLOR": "1", **(env or {})})


def free_port() -> int:
    """A port on 127.0.0.1 nothing listens on now."""
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


def port_open(port: int) -> bool:
    with socket.socket() as sock:
        sock.settimeout(0.5)
        return sock.connect_ex(("127.0.0.1", port)) == 0


@pytest.fixture
def kit_cli():
    return run_kit


@pytest.fixture(autouse=True)
def _no_bucket_owners_across_tests(monkeypatch):
    """The owners of the kit's buckets a pod is given (an environment variable the charts set):
    none from the developer's shell reaches a test."""
    from kit.data.objects import OWNERS_ENV

    monkeypatch.setenv(OWNERS_ENV, "")
