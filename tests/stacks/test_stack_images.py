"""Images the stack's own program runs, pinned by digest from the images lock like the charts':
the NVIDIA device plugin and the cluster autoscaler, each from the copy the stack makes in its
own ECR before the Kubernetes provider (hence any object) is used. No pull-through cache: a
first pull by digest does not fill one (github.com/aws/containers-roadmap/issues/2837, read
2026-12-07), so the autoscaler's Deployment would never become ready."""

from __future__ import annotations

import json

import pytest

from kit.config import parse
from kit.errors import KitError
from kit.infra.plan import offline_plan
from kit.render import UNPINNED, cluster_for
from stacks.cluster_layer import device_plugin
from tests.stacks.conftest import BASE

DIGEST = "sha256:" + "d" * 64
DAEMONSET = ("kubernetes:apps/v1:DaemonSet", "daemonset:kube-system/nvidia-device-plugin")
AUTOSCALER = ("kubernetes:apps/v1:Deployment", "deployment:kube-system/cluster-autoscaler")
ECR = "123456789012.dkr.ecr.us-east-1.amazonaws.com/acme-notes"


def cfg_in(tmp_path, lock: dict[str, str] | None = None):
    cfg = parse({**BASE, "aws": {"account_id": "123456789012"}}, base_dir=tmp_path)
    if lock is not None:
        cfg.workdir.root.mkdir(parents=True, exist_ok=True)
        cfg.workdir.images_lock.write_text(json.dumps(lock))
    return cfg


def image_and_annotations(plan, which) -> tuple[str, dict]:
    obj = plan.one(*which)["inputs"]
    (container,) = obj["spec"]["template"]["spec"]["containers"]
    return container["image"], obj["metadata"].get("annotations", {})


def test_the_locked_digests_are_pulled_from_the_stacks_own_registry(tmp_path):
    cfg = cfg_in(tmp_path, {"device-plugin": f"nvcr.io/nvidia/k8s-device-plugin@{DIGEST}",
                            "autoscaler": f"registry.k8s.io/autoscaling/cluster-autoscaler@{DIGEST}"})
    plan = offline_plan(cfg)
    assert image_and_annotations(plan, DAEMONSET) == (f"{ECR}/nvidia-device-plugin@{DIGEST}", {})
    assert image_and_annotations(plan, AUTOSCALER) == (
        f"{ECR}/k8s/autoscaling/cluster-autoscaler@{DIGEST}", {})


def test_a_plan_before_the_lock_shows_the_release_tags_marked_unpinned(tmp_path):
    plan = offline_plan(cfg_in(tmp_path))
    assert image_and_annotations(plan, DAEMONSET) == (
        f"{ECR}/nvidia-device-plugin:v0.17.4", {UNPINNED: "device-plugin"})
    assert image_and_annotations(plan, AUTOSCALER) == (
        f"{ECR}/k8s/autoscaling/cluster-autoscaler:v1.33.0", {UNPINNED: "autoscaler"})


def test_applying_it_without_a_digest_is_refused_in_one_line(tmp_path):
    cfg = cfg_in(tmp_path)
    with pytest.raises(KitError, match=r"^images lock: no digest for device-plugin "
                                       r"\(nvcr.io/nvidia/k8s-device-plugin:v0.17.4\)$"):
        device_plugin.objects(cfg, cluster_for(cfg), {}, review=False)


LOCK = {"device-plugin": f"nvcr.io/nvidia/k8s-device-plugin@{DIGEST}",
        "autoscaler": f"registry.k8s.io/autoscaling/cluster-autoscaler@{DIGEST}",
        "proxy": f"docker.io/nginxinc/nginx-unprivileged@{DIGEST}",
        "tgi": f"ghcr.io/huggingface/text-generation-inference@{DIGEST}",
        "vllm": f"docker.io/vllm/vllm-openai@{DIGEST}",
        "kit": f"{ECR}/kit:0.0.0@{DIGEST}", "trainer": f"{ECR}/trainer:0.0.0@{DIGEST}"}
COPY = "pulumi-python:dynamic/kit:ImageCopy"


def test_the_stack_copies_its_images_before_any_kubernetes_object_can_use_them(tmp_path):
    plan = offline_plan(cfg_in(tmp_path, LOCK))
    copies = {r["name"]: r for r in plan.of_type(COPY)}
    assert set(copies) == {"copy-device-plugin", "copy-autoscaler"}
    # (its provider travels pickled by reference: stacks.cluster_layer.image_copy._Copy, nothing inline)
    assert {k: v for k, v in copies["copy-autoscaler"]["inputs"].items() if k != "__provider"} == {
        "source": LOCK["autoscaler"], "destination": f"{ECR}/k8s/autoscaling/cluster-autoscaler",
        "tag": "v1.33.0-dddddddddddd", "login": "stacks.aws.registry_login:login"}
    assert copies["copy-device-plugin"]["inputs"]["destination"] == f"{ECR}/nvidia-device-plugin"
    repos = {r["inputs"]["name"]: r["urn"] for r in plan.of_type("aws:ecr/repository:Repository")}
    assert copies["copy-autoscaler"]["depends_on"] == [repos["acme-notes/k8s/autoscaling/cluster-autoscaler"]]
    assert copies["copy-device-plugin"]["depends_on"] == [repos["acme-notes/nvidia-device-plugin"]]
    provider = plan.one("pulumi:providers:kubernetes", "eks")
    assert {c["urn"] for c in copies.values()} <= set(provider["depends_on"])
    for which in (DAEMONSET, AUTOSCALER):       # both objects go through that provider
        assert "pulumi:providers:kubernetes::eks::" in plan.one(*which)["provider"]


def test_a_plan_before_the_lock_copies_nothing(tmp_path):
    assert offline_plan(cfg_in(tmp_path)).of_type(COPY) == []


def test_every_image_the_cluster_pulls_is_in_a_repository_the_stack_creates(tmp_path):
    """With a run's objects too (the charts' trainer, kit, proxy, engine): each image is
    <prefix>/<path>@digest for a repository of the plan; none from a pull-through cache."""
    import re

    for engine in ("tgi", "vllm"):
        cfg = cfg_in(tmp_path / engine, LOCK)
        cfg.serving.engine = engine
        plan = offline_plan(cfg, run_id="ft-abc")
        repos = {r["inputs"]["name"] for r in plan.of_type("aws:ecr/repository:Repository")}
        text = json.dumps([r["inputs"] for r in plan.resources if r["type"].startswith("kubernetes:")])
        images = set(re.findall(r'"image": "([^"]+)"', text))
        assert len(images) >= 5, images
        for image in images:
            assert image.startswith(ECR + "/") and image.endswith(f"@{DIGEST}"), image
            repository = image.removeprefix(ECR.rsplit("/", 1)[0] + "/").split("@")[0].split(":")[0]
            assert repository in repos, image
        assert plan.of_type("aws:ecr/pullThroughCacheRule:PullThroughCacheRule") == []
