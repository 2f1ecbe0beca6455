"""Will the fine-tune fit its node: every GPU pool the catalogs offer, for every method and a
small, a mid and a large model, either renders a trainer pod that holds the run's peak (the
LoRA merge included) within what the node can give a pod, or is refused in one line before
anything is created (kit.estimate.fit.problems, `kit plan`'s blockers)."""

from __future__ import annotations

import pytest

from kit.config import parse
from kit.estimate import estimate
from kit.estimate.fit import GIB, assess, pod_capacity_gib, problems, reserved_gib
from kit.gpus import MODELS
from kit.render.values import finetune_values
from stacks.clouds import all_supports
from stacks.contract import ClusterOutputs

BUCKETS = {"aws": "s3://acme-data/sft/", "gcp": "gs://acme-data/sft/", "azure": "az://acme/data/sft/"}
REGIONS = {"aws": "us-east-1", "gcp": "us-central1", "azure": "eastus2"}
SIZES = {"0.5B": 0.5e9, "8B": 8e9, "70B": 70e9}
COMBINATIONS = [(s.target, o.gpu_type, o.gpus, method, size)
                for s in all_supports() if s.gpu_catalog for o in s.gpu_catalog
                for method in ("lora", "qlora", "full") for size in SIZES]


def config(tmp_path, target, gpu_type, gpus, method, size, max_nodes=2):
    extra = {"aws": {"aws": {"account_id": "123456789012"}}, "gcp": {"gcp": {"project": "acme-ml-prod"}},
             "azure": {"azure": {"subscription_id": "11111111-2222-3333-4444-555555555555"}}}[target]
    return parse({"name": "acme", "target": target, "region": REGIONS[target],
                  "model": {"id": f"acme/Model-{size}"}, "data": {"uri": BUCKETS[target]},
                  "training": {"method": method},
                  "gpu": {"type": gpu_type, "count": gpus, "max_nodes": max_nodes}, **extra},
                 base_dir=tmp_path)


def rendered_memory_gib(cfg) -> float:
    cluster = ClusterOutputs(cloud=cfg.target, cluster_name="c", artifacts_uri=BUCKETS[cfg.target] + "a/",
                             models_uri=BUCKETS[cfg.target] + "m/")
    values = finetune_values(cfg, cluster, {"trainer": "t", "kit": "k"}, "run-1")
    limits, requests = values["resources"]["trainer"]["limits"], values["resources"]["trainer"]["requests"]
    assert limits["memory"] == requests["memory"] and limits["memory"].endswith("Gi")
    return float(limits["memory"][:-2])


@pytest.mark.parametrize("target,gpu_type,gpus,method,size", COMBINATIONS)
def test_every_pool_method_and_size_fits_its_pod_or_is_refused_in_one_line(tmp_path, target, gpu_type, gpus,
                                                                           method, size):
    cfg = config(tmp_path, target, gpu_type, gpus, method, size)
    fit = assess(cfg)
    found = problems(cfg)
    if found:
        assert all("\n" not in line and line.startswith("gpu: ") for line in found)
        return
    memory = rendered_memory_gib(cfg)
    assert memory >= fit.host_gib                                       # the run's peak, merge included
    assert memory <= pod_capacity_gib(fit.node.memory_gib)              # never above the node
    if method != "full":
        merge_gib = SIZES[size] * 2 / GIB                               # the bf16 base
        on_gpu = merge_gib <= (fit.node.gpu_gib - 1.0) * fit.node.gpus
        assert fit.merge_on == ("gpu" if on_gpu else "cpu")
        assert on_gpu or memory >= merge_gib


def test_the_gcp_example_merges_8b_on_its_l4_within_a_16_gib_node(tmp_path):
    """The merge of issue 23: 8B in bf16 (~15 GiB) does not fit the pod a g2-standard-4 can hold
    (16 GiB less GKE's 2.7 GiB reservation), so it runs on the L4 (24 GB) once training has let
    go of it, and the pod stays within the node."""
    cfg = config(tmp_path, "gcp", "l4", 1, "lora", "8B")
    fit = assess(cfg)
    assert fit.merge_on == "gpu" and not problems(cfg)
    assert 8 * 2e9 / GIB > pod_capacity_gib(16)                         # on the CPU it could not fit
    assert fit.host_gib <= rendered_memory_gib(cfg) <= pod_capacity_gib(16)


def test_a_pool_too_small_for_the_model_is_refused_naming_what_it_needs_and_has(tmp_path):
    found = problems(config(tmp_path, "gcp", "l4", 1, "lora", "70B"))
    assert any("130.4 GiB on each GPU" in line and "g2-standard-4" in line and "21.4 GiB usable" in line
               for line in found)
    assert any("host memory" in line and "can give a pod 12.3 GiB" in line for line in found)
    full = problems(config(tmp_path, "aws", "l4", 1, "full", "8B"))
    assert full and "16 bytes a parameter" in full[0] and "over 2 GPUs" in full[0]


def test_an_unknown_pool_is_a_problem_not_a_crash(tmp_path):
    cfg = config(tmp_path, "gcp", "l4", 1, "lora", "8B")
    cfg.gpu.count = 3
    assert problems(cfg) and "gpu.count" in problems(cfg)[0]


def test_8b_on_a_24_gb_l4_with_a_16_gib_host_is_flagged_tight_with_both_memories(tmp_path):
    for target in ("aws", "gcp"):
        e = estimate(config(tmp_path, target, "l4", 1, "lora", "8B"), tokens=1000)
        tight = [w for w in e.warnings if w.startswith("tight:")]
        assert tight, e.warnings
        assert "14.9 of the 21.4 GiB usable on each GPU" in tight[0] and "(24 GB)" in tight[0]
        assert "of host memory" in tight[0] and "(16 GiB)" in tight[0]
    small = estimate(config(tmp_path, "gcp", "l4", 1, "lora", "0.5B"), tokens=1000)
    assert small.warnings == []


def test_the_kubelet_reservation_follows_gkes_published_tiers():
    """https://cloud.google.com/kubernetes-engine/docs/concepts/plan-node-sizes (read 2026-12-07):
    25% of the first 4 GiB, 20% of the next 4, 10% of the next 8, 6% of the next 112, 2% above
    128, plus a 100 MiB eviction threshold."""
    assert reserved_gib(16) == pytest.approx(1 + 0.8 + 0.8 + 100 / 1024)
    assert reserved_gib(256) == pytest.approx(1 + 0.8 + 0.8 + 0.06 * 112 + 0.02 * 128 + 100 / 1024)


def test_azure_nc_h100_v5_is_estimated_with_the_h100_nvl_peak_not_the_sxm_one(tmp_path):
    nvl = estimate(config(tmp_path, "azure", "h100", 1, "lora", "8B"), tokens=10**6)
    sxm = estimate(config(tmp_path, "aws", "h100", 1, "lora", "8B"), tokens=10**6)
    assert (nvl.instance_type, sxm.instance_type) == ("Standard_NC40ads_H100_v5", "p5.4xlarge")
    ratio = MODELS["h100-nvl"].bf16_tflops / MODELS["h100-sxm"].bf16_tflops
    assert nvl.tokens_per_s == pytest.approx(sxm.tokens_per_s * ratio, rel=0.01)
    assert any("1,671 TFLOPS" in a for a in nvl.assumptions)


def test_a_local_run_is_never_refused_for_the_gpu_its_estimate_assumes(tmp_path):
    local = parse({"name": "acme", "target": "local", "model": {"id": "acme/Model-8B"},
                   "data": {"uri": "./d.jsonl"}, "training": {"method": "full"}, "gpu": {"type": "l4"}},
                  base_dir=tmp_path)
    assert problems(local) == [] and estimate(local, tokens=1000).warnings == []
