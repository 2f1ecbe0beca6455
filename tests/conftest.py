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


# What `make test-fast` leaves out (the `slow` marker), by node id prefix: measured at 4 s or
# more a test on the 2-core reference machine, or a file of such tests (real training runs,
# image builds, the local pipeline end to end, `kit plan` in a subprocess), besides the tests
# marked @pytest.mark.slow where they are. `make test` runs all.
SLOW = (
    "tests/e2e/", "tests/images/",
    "tests/trainer/test_trainer_cli.py", "tests/trainer/test_trainer_select.py",
    "tests/trainer/test_trainer_resume.py", "tests/trainer/test_trainer_distributed.py",
    "tests/trainer/test_merge_placement.py", "tests/trainer/test_trainer_demo_model.py",
    "tests/stacks/test_blockers.py", "tests/stacks/test_plan_cli.py",
    "tests/stacks/gcp/test_config_render.py::test_offline_plan_json",
    "tests/stacks/gcp/test_perimeter.py::test_an_accepted_risk_is_shown_by_the_plan",
    "tests/stacks/azure/test_plan_cli.py", "tests/stacks/aws/test_capacity.py::test_kit_plan",
    "tests/data/test_hub_tokenizer.py", "tests/data/test_kill.py",
    "tests/data/test_validate.py::test_kit_yaml_form",
    "tests/unit/test_captured_output.py::test_no_library_progress_bars",
    "tests/unit/test_image_wheels.py::test_on_a_torch_base", "tests/unit/test_logs.py::test_follow",
    "tests/cluster/test_purge_kept.py::test_a_bucket_with_more_versions",
    "tests/cluster/test_rbac.py::test_doctor_lists", "tests/cluster/test_down.py::test_workloads_go_first",
)


def pytest_collection_modifyitems(config, items):
    for item in items:
        if item.nodeid.startswith(SLOW):
            item.add_marker(pytest.mark.slow)


@pytest.fixture
def kit_cli():
    return run_kit


@pytest.fixture(autouse=True)
def _no_bucket_owners_across_tests(monkeypatch):
    """The owners of the kit's buckets a pod is given (an environment variable the charts set):
    none from the developer's shell reaches a test."""
    from kit.data.objects import OWNERS_ENV

    monkeypatch.setenv(OWNERS_ENV, "")
