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
    assert kinds == ["Namespace", "Role", "RoleBinding", "Role", "RoleBinding", "ClusterRole",
                     "ClusterRoleBinding"]
    assert {s["name"] for o in objects for s in o.get("subjects", [])} == {"lima-kit-operators"}
    cluster = next(o for o in objects if o["kind"] == "ClusterRole")
    assert {r["resources"][0] for r in cluster["rules"]} == {"namespaces", "nodes"}   # nothing more


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


@pytest.mark.parametrize("what", ["get pods/log in lima-kit", "list nodes", "patch daemonsets.apps in kube-system"])
def test_review_names_read_as_kubectl_would(what):
    assert what in [w for w, _ in reviews("lima-kit")]
