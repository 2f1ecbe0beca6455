"""The NVIDIA device plugin the stack applies: pinned by digest from the images lock, pulled
from the copy in the stack's own registry (nvcr.io has no pull-through cache)."""

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
ECR = "123456789012.dkr.ecr.us-east-1.amazonaws.com/acme-notes"


def cfg_in(tmp_path, lock: dict[str, str] | None = None):
    cfg = parse({**BASE, "aws": {"account_id": "123456789012"}}, base_dir=tmp_path)
    if lock is not None:
        cfg.workdir.root.mkdir(parents=True, exist_ok=True)
        cfg.workdir.images_lock.write_text(json.dumps(lock))
    return cfg


def test_the_locked_digest_is_pulled_from_the_stacks_own_registry(tmp_path):
    cfg = cfg_in(tmp_path, {"device-plugin": f"nvcr.io/nvidia/k8s-device-plugin@{DIGEST}"})
    plugin = offline_plan(cfg).one(*DAEMONSET)["inputs"]
    (container,) = plugin["spec"]["template"]["spec"]["containers"]
    assert container["image"] == f"{ECR}/nvidia-device-plugin@{DIGEST}"
    assert UNPINNED not in plugin["metadata"].get("annotations", {})


def test_a_plan_before_the_lock_shows_the_release_tag_marked_unpinned(tmp_path):
    plugin = offline_plan(cfg_in(tmp_path)).one(*DAEMONSET)["inputs"]
    (container,) = plugin["spec"]["template"]["spec"]["containers"]
    assert container["image"] == f"{ECR}/nvidia-device-plugin:v0.17.4"
    assert plugin["metadata"]["annotations"] == {UNPINNED: "device-plugin"}


def test_applying_it_without_a_digest_is_refused_in_one_line(tmp_path):
    cfg = cfg_in(tmp_path)
    with pytest.raises(KitError, match=r"^images lock: no digest for device-plugin "
                                       r"\(nvcr.io/nvidia/k8s-device-plugin:v0.17.4\)$"):
        device_plugin.objects(cfg, cluster_for(cfg), {}, review=False)
