"""The Job watcher against recorded-shape Kubernetes watch streams (fixtures/*.json).

Each fixture is a stream of watch events (Job, Pods, Events, in the API server's JSON) with
the second each arrived, plus the trainer pod's log lines and what the kit must conclude.
"""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from kit.cluster.jobwatch import FAILED, JobWatch, TrainerLog, pod_failure

FIXTURES = Path(__file__).parent / "fixtures"
NAMES = sorted(p.stem for p in FIXTURES.glob("*.json"))


def load(name: str) -> dict:
    return json.loads((FIXTURES / f"{name}.json").read_text())


def replay(fx: dict, until: float | None = None) -> tuple[JobWatch, list[str]]:
    watch, notes = JobWatch(fx["job"]), []
    for item in fx["stream"]:
        if until is not None and item["at"] > until:
            break
        notes += watch.feed(item, now=item["at"])
    return watch, notes


def test_every_scenario_has_a_fixture():
    assert set(NAMES) == {"success", "oomkilled", "image_pull", "unschedulable", "preempted",
                          "deadline", "config_error", "unschedulable_events_v1"}


@pytest.mark.parametrize("name", NAMES)
def test_fixtures_are_valid_kubernetes_objects_and_say_what_they_follow(name):
    """Every object as a 1.33 API server would send it (strict: no unknown field, nothing
    required missing), and each fixture names the documented behaviour it reproduces."""
    import kubernetes_validate

    fx = load(name)
    assert fx["follows"] and all(ref.startswith("https://") for ref in fx["follows"])
    for item in fx["stream"]:
        kubernetes_validate.validate(item["object"], "1.33.0", strict=True)


@pytest.mark.parametrize("name", ["success", "oomkilled", "deadline", "preempted"])
def test_terminal_job_conditions_come_in_the_order_of_1_31(name):
    """FailureTarget / SuccessCriteriaMet first; Failed / Complete in a later update."""
    jobs = [item["object"] for item in load(name)["stream"] if item["object"]["kind"] == "Job"]
    seen = [[c["type"] for c in (job.get("status") or {}).get("conditions") or []] for job in jobs]
    final = seen[-1]
    assert final in (["FailureTarget", "Failed"], ["SuccessCriteriaMet", "Complete"])
    assert [final[0]] in seen                   # the interim condition stood alone first


def test_events_of_either_api_lead_to_the_same_verdict():
    core, _ = replay(load("unschedulable"))
    new, _ = replay(load("unschedulable_events_v1"))
    at = load("unschedulable")["stream"][-1]["at"]
    assert core.verdict(at) == new.verdict(at) and core.verdict(at).cause == "unschedulable"
    assert core.events == new.events


@pytest.mark.parametrize("name", NAMES)
def test_conclusion(name):
    fx = load(name)
    expect = fx["expect"]
    watch, notes = replay(fx)
    assert watch.phase == expect["phase"]
    last = fx["stream"][-1]["at"]
    verdict = watch.verdict(now=last)
    assert (verdict.cause if verdict else None) == expect["cause"]
    for text in expect.get("notes", []):
        assert any(text in n for n in notes), (text, notes)
    if "hint_contains" in expect:
        assert expect["hint_contains"] in verdict.hint
    if "message_contains" in expect:
        assert expect["message_contains"] in verdict.message


@pytest.mark.parametrize("name", ["image_pull", "unschedulable", "config_error"])
def test_a_stuck_job_is_called_as_soon_as_the_evidence_arrives_and_not_before(name):
    fx = load(name)
    expect = fx["expect"]
    early, _ = replay(fx, until=expect["not_before"])
    assert early.verdict(now=expect["not_before"]) is None
    late, _ = replay(fx, until=expect["at"])
    assert late.verdict(now=expect["at"]).cause == expect["cause"]


def test_unschedulable_waits_longer_while_the_autoscaler_adds_a_node():
    fx = load("success")
    watch, _ = replay(fx, until=11.0)   # pending, scale-up triggered
    assert watch.scale_up
    assert watch.verdict(now=11.0 + 600) is None          # plain grace would have fired here
    assert watch.verdict(now=0.5 + 1800).cause == "unschedulable"


def test_pending_image_backoff_without_a_clear_event_is_called_after_the_grace():
    fx = load("image_pull")
    stream = [e for e in fx["stream"] if e["object"]["kind"] != "Event"]
    watch = JobWatch(fx["job"])
    for item in stream:
        watch.feed(item, now=item["at"])
    assert watch.verdict(now=100) is None
    assert watch.verdict(now=30 + 120).cause == "image-pull"


def test_events_are_kept_once_each():
    fx = load("oomkilled")
    watch, _ = replay(fx)
    watch.feed(fx["stream"][-1], now=999)
    assert sum("BackoffLimitExceeded" in e for e in watch.events) == 1


@pytest.mark.parametrize("name", NAMES)
def test_trainer_log_drives_progress(name):
    fx = load(name)
    log = TrainerLog()
    for line in fx["logs"]:
        log.feed(line)
    if "progress" in fx["expect"]:
        assert [log.step, log.total] == fx["expect"]["progress"]
        assert log.done and log.metrics["loss_last"] == 0.9
    assert all(not t.startswith('{"event"') for t in log.tail)


def test_trainer_error_event_becomes_the_reason():
    log = TrainerLog()
    log.feed('{"event":"error","kind":"oom","message":"out of memory: CUDA"}')
    log.feed("not json {")
    assert log.error == "out of memory: CUDA"
    assert list(log.tail) == ["error: out of memory: CUDA", "not json {"]


@pytest.mark.parametrize("code,cause", [(3, "bad-data"), (4, "gpu-oom"), (1, "trainer-error")])
def test_trainer_exit_codes(code, cause):
    pod = {"metadata": {"name": "p"}, "status": {"phase": "Failed", "containerStatuses": [
        {"name": "trainer", "state": {"terminated": {"exitCode": code, "reason": "Error"}}}]}}
    assert pod_failure(pod).cause == cause


def test_a_failed_staging_init_container_names_itself():
    pod = {"metadata": {"name": "p"}, "status": {"phase": "Failed", "initContainerStatuses": [
        {"name": "stage-data", "state": {"terminated": {"exitCode": 1, "reason": "Error"}}}]}}
    diagnosis = pod_failure(pod)
    assert diagnosis.cause == "staging" and "stage-data" in diagnosis.hint


def test_failed_job_without_pod_detail_still_says_why():
    watch = JobWatch("j")
    watch.feed({"type": "MODIFIED", "object": {"kind": "Job", "status": {"conditions": [
        {"type": "Failed", "status": "True", "reason": "PodFailurePolicy",
         "message": "Container trainer for pod x failed with exit code 2"}]}}}, now=1)
    assert watch.phase == FAILED
    assert "exit code 2" in watch.verdict(now=1).message
