"""Least privilege on an existing cluster: the RBAC objects `kit render` writes cover what the
kit applies, validate, and `kit doctor` asks the API server for every verb, listing all gaps."""

from __future__ import annotations

import json

import pytest

from kit.cluster.rbac import PERMISSIONS, rbac_objects, reviews
from tests.cluster.apiserver import APIServer

# kind -> (API group, resource) of what the charts and the platform layer create.
RESOURCES = {"Job": ("batch", "jobs"), "Deployment": ("apps", "deployments"), "Service": ("", "services"),
             "ConfigMap": ("", "configmaps"), "Secret": ("", "secrets"),
             "ServiceAccount": ("", "serviceaccounts"), "PodDisruptionBudget": ("policy", "poddisruptionbudgets"),
             "HorizontalPodAutoscaler": ("autoscaling", "horizontalpodautoscalers"),
             "NetworkPolicy": ("networking.k8s.io", "networkpolicies"), "Namespace": ("", "namespaces")}


def test_the_rbac_objects_are_valid_and_bind_one_group():
    import kubernetes_validate

    objects = rbac_objects("lima-kit", "acme")
    for obj in objects:
        kubernetes_validate.validate(obj, "1.33.0", strict=True)
    kinds = [o["kind"] for o in objects]
    assert kinds == ["Namespace", "Role", "RoleBinding", "ClusterRole", "ClusterRoleBinding"]
    assert {s["name"] for o in objects for s in o.get("subjects", [])} == {"lima-kit-operators"}
    cluster = next(o for o in objects if o["kind"] == "ClusterRole")
    assert {r["resources"][0] for r in cluster["rules"]} == {"namespaces", "nodes"}   # nothing more


def test_the_grant_writes_nothing_outside_the_kits_namespace():
    """Issue 24: daemonsets in kube-system and cluster-wide namespace write amounted to
    cluster admin (delete any namespace, relabel one out of Pod Security, run a privileged
    DaemonSet on every node). Cluster-scoped rules may only read nodes and read/label the
    kit's own namespace by name; no Role outside it."""
    objects = rbac_objects("lima-kit", "acme")
    assert {o["metadata"].get("namespace") for o in objects if o["kind"] in ("Role", "RoleBinding")} == {"lima-kit"}
    rules = next(o for o in objects if o["kind"] == "ClusterRole")["rules"]
    by_resource = {r["resources"][0]: r for r in rules}
    assert by_resource["namespaces"]["resourceNames"] == ["lima-kit"]
    assert set(by_resource["namespaces"]["verbs"]) == {"get", "patch"}
    assert set(by_resource["nodes"]["verbs"]) == {"get", "list"} and "resourceNames" not in by_resource["nodes"]
    asked = dict(reviews("lima-kit"))
    assert asked["patch namespaces/lima-kit"] == {"verb": "patch", "group": "", "resource": "namespaces",
                                                  "name": "lima-kit"}
    assert not [w for w in asked if "kube-system" in w]


def test_the_grant_covers_every_kind_the_kit_applies(tmp_path):
    from kit.config import parse
    from kit.render import cluster_for, render_objects
    from tests.charts.chartkit import TEST_IMAGES

    cfg = parse({"name": "acme", "target": "kubernetes", "model": {"id": "s3://m/x/"},
                 "storage": {"artifacts_uri": "s3://a", "models_uri": "s3://m", "bucket_owner": "123456789012"},
                 "data": {"uri": "s3://d/x/"}, "serving": {"replicas": 2}}, base_dir=tmp_path)
    applied = {o["kind"] for objs in render_objects(cfg, cluster_for(cfg), images=TEST_IMAGES).values()
               for o in objs}
    granted = {(p.group, p.resource) for p in PERMISSIONS if {"create", "patch", "delete"} <= set(p.verbs)}
    applied.discard("Namespace")    # the admin's (operator-rbac.yaml); the kit only labels it
    assert applied and all(RESOURCES[kind] in granted for kind in applied), applied


def test_doctor_lists_every_missing_verb_at_once(tmp_path, monkeypatch, k8s_cfg):
    from kit.cluster import preflight

    checks = reviews("lima-kit")
    refused = {"create pods/portforward in lima-kit", "list nodes"}
    with APIServer() as server:
        server.script("POST", "/apis/authorization.k8s.io/v1/selfsubjectaccessreviews", *[
            ("json", 201, {"apiVersion": "authorization.k8s.io/v1", "kind": "SelfSubjectAccessReview",
                           "spec": {"resourceAttributes": attrs},
                           "status": {"allowed": what not in refused}}) for what, attrs in checks])
        kube = server.kube(tmp_path)
        monkeypatch.setattr("kit.cluster.kube.connect_deployment", lambda cfg: kube)
        check = preflight.permissions(k8s_cfg)
        asked = [r for r in server.requests if r[0] == "POST"]
    assert not check.ok
    assert check.detail == "2 missing: create pods/portforward in lima-kit, list nodes"
    assert "operator-rbac.yaml" in check.fix
    assert len(asked) == len(checks) == sum(len(p.verbs) for p in PERMISSIONS)


def test_kit_render_writes_the_grant_for_an_existing_cluster_only(tmp_path):
    from click.testing import CliRunner

    from kit.commands.render import render
    from tests.charts.chartkit import EXAMPLES, TEST_IMAGES

    (tmp_path / "lock.json").write_text(json.dumps(TEST_IMAGES))
    for example, expected in (("kubernetes", True), ("aws", False)):
        out = tmp_path / example
        result = CliRunner().invoke(render, ["-f", str(EXAMPLES / example / "kit.yaml"), "--out", str(out),
                                             "--images", str(tmp_path / "lock.json")])
        assert result.exit_code == 0, result.output
        assert (out / "operator-rbac.yaml").exists() == expected


@pytest.mark.parametrize("what", ["get pods/log in lima-kit", "list nodes", "get namespaces/lima-kit"])
def test_review_names_read_as_kubectl_would(what):
    assert what in [w for w, _ in reviews("lima-kit")]


def _node(name: str, gpus: int) -> dict:
    allocatable = {"cpu": "8", "nvidia.com/gpu": str(gpus)} if gpus else {"cpu": "8"}
    return {"metadata": {"name": name}, "status": {"allocatable": allocatable, "conditions": [
        {"type": "Ready", "status": "True"}]}}


@pytest.mark.parametrize("gpus,ok", [((0, 0), False), ((1, 0), False), ((2, 1), True)])
def test_doctor_on_an_existing_cluster_asks_for_nodes_advertising_the_gpus(tmp_path, monkeypatch,
                                                                           k8s_cfg, gpus, ok):
    """The admin installs the device plugin (the operator may not write kube-system): doctor
    checks a node advertises gpu.count nvidia.com/gpu (here 2), else the Job never schedules."""
    from kit.cluster import preflight
    from tests.cluster.conftest import K8S, make

    cfg = make(K8S, tmp_path, gpu={"type": "l40s", "count": 2})
    nodes = [_node(f"n{i}", g) for i, g in enumerate(gpus)]
    with APIServer() as server:
        server.script("GET", "/api/v1/nodes", ("json", 200, {"kind": "NodeList", "apiVersion": "v1",
                                                              "metadata": {}, "items": nodes}))
        kube = server.kube(tmp_path)
        monkeypatch.setattr("kit.cluster.kube.connect_deployment", lambda cfg: kube)
        check = preflight.gpu_pool(cfg)
    assert check.ok is ok
    if not ok:
        assert check.detail == f"no node advertises 2 nvidia.com/gpu (most on one node: {max(gpus)})"
        assert "NVIDIA device plugin" in check.fix
