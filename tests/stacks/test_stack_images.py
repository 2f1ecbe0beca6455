"""Images the stack's own program runs, pinned by digest from the images lock like the charts':
the NVIDIA device plugin (from the copy in the stack's registry: nvcr.io has no pull-through
cache) and the cluster autoscaler (through the registry.k8s.io cache rule)."""

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
