"""The cluster client against an API server's answers over HTTP (tests/cluster/apiserver.py):
the real kubernetes client parses them, the kit's watch and apply decide what to do."""

from __future__ import annotations

import threading

import pytest

from kit.errors import KitError
from tests.cluster.apiserver import APIServer, event, status

JOBS = "/apis/batch/v1/namespaces/lima-kit/jobs"


def job(version: str, active: int = 1) -> dict:
    return {"apiVersion": "batch/v1", "kind": "Job",
            "metadata": {"name": "acme-notes-finetune", "namespace": "lima-kit",
                         "resourceVersion": version, "uid": "6f1c2d3e-0000-4000-8000-000000000001"},
            "spec": {"template": {"spec": {"containers": [{"name": "trainer", "image": "t"}],
                                           "restartPolicy": "Never"}}},
            "status": {"active": active}}


def bookmark(version: str) -> dict:
    return {"apiVersion": "batch/v1", "kind": "Job", "metadata": {"resourceVersion": version}}


@pytest.fixture
def api(tmp_path, monkeypatch):
    monkeypatch.setattr("kit.cluster.kube.BACKOFF_S", (0.0, 0.0, 0.0))
    with APIServer() as server:
        yield server, server.kube(tmp_path)


def take(kube, count: int) -> list[tuple[str, str]]:
    """The first `count` watch events as (type, resourceVersion)."""
    stop, seen = threading.Event(), []
    for item in kube.watch("batch/v1", "Job", stop=stop):
        seen.append((item["type"], item["object"]["metadata"]["resourceVersion"]))
        if len(seen) == count:
            stop.set()
            break
    return seen


def watch_queries(server) -> list[dict]:
    return [q for method, path, q in server.requests if path == JOBS and q.get("watch") == ["true"]]


def test_an_expired_version_410_relists_from_the_current_state(api):
    server, kube = api
    expired = status(410, "Expired", "too old resource version: 10 (30)")
    server.script("GET", JOBS,
                  ("stream", [event("ADDED", job("10")), event("ERROR", expired)], False),
                  ("stream", [event("ADDED", job("30")), event("MODIFIED", job("31", 0))], False))
    assert take(kube, 3) == [("ADDED", "10"), ("ADDED", "30"), ("MODIFIED", "31")]
    first, second = watch_queries(server)
    assert "resourceVersion" not in first and "resourceVersion" not in second   # a fresh list
    assert first["allowWatchBookmarks"] == ["true"]


def test_bookmarks_move_the_version_and_are_not_events(api):
    server, kube = api
    server.script("GET", JOBS,
                  ("stream", [event("ADDED", job("5")), event("BOOKMARK", bookmark("15"))], False),
                  ("stream", [event("MODIFIED", job("16", 0))], False))
    assert take(kube, 2) == [("ADDED", "5"), ("MODIFIED", "16")]
    assert watch_queries(server)[1]["resourceVersion"] == ["15"]


def test_a_dropped_watch_reconnects_from_the_last_version(api):
    server, kube = api
    server.script("GET", JOBS, ("stream", [event("ADDED", job("7"))], True),
                  ("stream", [event("MODIFIED", job("8", 0))], False))
    assert take(kube, 2) == [("ADDED", "7"), ("MODIFIED", "8")]
    assert watch_queries(server)[1]["resourceVersion"] == ["7"]


@pytest.mark.parametrize("code,reason,text", [
    (401, "Unauthorized", "the credentials were refused (401)"),
    (403, "Forbidden", "access denied (403)"),
    (404, "NotFound", "no such resource (404)"),
])
def test_refused_credentials_or_permissions_end_the_watch_in_one_line(api, code, reason, text):
    server, kube = api
    server.script("GET", JOBS, ("json", code, status(code, reason, f'jobs.batch is {reason.lower()}')))
    with pytest.raises(KitError) as err:
        take(kube, 1)
    assert err.value.message.startswith(f"kubernetes: watching Job in lima-kit: {text}")
    assert "\n" not in err.value.one_line() and "kit doctor" in err.value.hint
    assert len(watch_queries(server)) == 1                  # not retried


def test_rate_limits_and_server_errors_are_retried_then_the_watch_goes_on(api):
    server, kube = api
    server.script("GET", JOBS, ("json", 429, status(429, "TooManyRequests", "slow down")),
                  ("json", 503, status(503, "ServiceUnavailable", "etcd leader changed")),
                  ("stream", [event("ADDED", job("3"))], False))
    assert take(kube, 1) == [("ADDED", "3")]
    assert len(watch_queries(server)) == 3


def test_a_server_that_keeps_failing_ends_the_watch_after_bounded_retries(api):
    server, kube = api
    server.script("GET", JOBS, *[("json", 500, status(500, "InternalError", "boom"))] * 10)
    with pytest.raises(KitError, match="the API server kept failing"):
        take(kube, 1)
    assert len(watch_queries(server)) == 4                  # the first try and 3 retries


def test_an_apply_conflict_says_which_fields_another_manager_owns(api):
    server, kube = api
    conflict = status(409, "Conflict", "Apply failed with 2 conflicts", {"causes": [
        {"reason": "FieldManagerConflict", "message": 'conflict with "kubectl-edit" using batch/v1',
         "field": ".spec.parallelism"},
        {"reason": "FieldManagerConflict", "message": 'conflict with "kubectl-edit" using batch/v1',
         "field": ".spec.backoffLimit"}]})
    server.script("PATCH", f"{JOBS}/acme-notes-finetune", ("json", 409, conflict))
    with pytest.raises(KitError) as err:
        kube.apply([job("1")])
    assert err.value.message == ("kubernetes: Job/acme-notes-finetune: .spec.parallelism, "
                                 ".spec.backoffLimit owned by field manager 'kubectl-edit'")
    assert "--force-conflicts --field-manager lima-kit" in err.value.hint
    (method, _path, query), = [r for r in server.requests if r[0] == "PATCH"]
    assert query["fieldManager"] == ["lima-kit"] and query["force"] == ["false"]
