"""`kit doctor` on GCP: the project-wide GPU quota (GPUS_ALL_REGIONS, 0 on a new project) as
well as the region's. The Compute API is a fake answering projects.get with a new project's
response (fixtures/compute-project.json, shaped as the v1 API reference's Project resource:
`quotas` of {metric, limit, usage})."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import pytest

from stacks.gcp import preflight
from tests.stacks.gcp.conftest import make_cfg

PROJECT = json.loads((Path(__file__).parent / "fixtures" / "compute-project.json").read_text())


class FakeApi:
    """Answers GETs from a table of URL -> response; records what was asked."""

    def __init__(self, answers: dict[str, Any]):
        self.answers, self.asked = answers, []

    def get(self, url: str) -> Any:
        self.asked.append(url)
        return self.answers.get(url)


@pytest.fixture
def api(monkeypatch):
    def install(answers: dict[str, Any]) -> FakeApi:
        fake = FakeApi(answers)
        monkeypatch.setattr(preflight, "_api", lambda _cfg: fake)
        return fake
    return install


def _with_global_gpus(limit: int, usage: int = 0) -> dict:
    quotas = [q if q["metric"] != "GPUS_ALL_REGIONS" else {**q, "limit": limit, "usage": usage}
              for q in PROJECT["quotas"]]
    return {**PROJECT, "quotas": quotas}


def test_a_new_project_has_no_global_gpu_quota_and_says_what_to_request(api):
    fake = api({"https://compute.googleapis.com/compute/v1/projects/acme-ml-prod": PROJECT})
    check = preflight.global_gpu_quota(make_cfg())          # 2 nodes x 8 H100
    assert not check.ok
    assert check.detail == "GPUS_ALL_REGIONS: 0 free of 0; 2 node(s) x 8 GPUs need 16"
    assert check.fix.startswith("request GPUS_ALL_REGIONS >= 16 for project acme-ml-prod")
    assert fake.asked == ["https://compute.googleapis.com/compute/v1/projects/acme-ml-prod"]


@pytest.mark.parametrize(("limit", "usage", "ok"), [(16, 0, True), (24, 8, True), (24, 9, False)])
def test_the_global_quota_against_a_full_pool(api, limit, usage, ok):
    api({"https://compute.googleapis.com/compute/v1/projects/acme-ml-prod": _with_global_gpus(limit, usage)})
    check = preflight.global_gpu_quota(make_cfg(gpu={"spot": True}))   # spot counts too
    assert check.ok is ok and f"{limit - usage} free of {limit}" in check.detail


def test_doctor_runs_the_global_check_beside_the_regional_one():
    names = [fn.__name__ for fn in preflight.checks(make_cfg())]
    assert {"gpu_quota", "global_gpu_quota"} <= set(names)
    # nothing fetches from Docker Hub on Google's side: no registry login to check
    assert "docker_hub" not in names
