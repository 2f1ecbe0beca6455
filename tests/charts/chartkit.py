"""The values matrix and helpers shared by the chart tests.

Images here are test fixtures: the real repositories with made-up digests (sha256 of the
image name) that exist in no registry. Rendering and validation never pull anything.
"""

from __future__ import annotations

import hashlib
import json
from pathlib import Path
from typing import Any

import yaml

from kit.images import IMAGES
from stacks.clouds import cloud_support

ROOT = Path(__file__).resolve().parents[2]
CHARTS = ROOT / "charts"
EXAMPLES = ROOT / "examples"
NAMESPACE = "lima-kit"


def fake_ref(name: str) -> str:
    """The image's real repository with a made-up digest (sha256 of its name)."""
    return f"{IMAGES[name].repository}@sha256:{hashlib.sha256(name.encode()).hexdigest()}"


TEST_IMAGES = {name: fake_ref(name) for name in ("kit", "trainer", "tgi", "vllm", "proxy")}

FINETUNE_BASE: dict[str, Any] = {
    "runId": "ft-test",
    "images": {"trainer": TEST_IMAGES["trainer"], "kit": TEST_IMAGES["kit"]},
    "stage": {"dataUri": "s3://acme-data/sft/", "modelUri": "s3://acme-models/llama/main/"},
    "uploadUri": "s3://acme-artifacts/runs/ft-test/",
    "training": {"method": "lora", "epochs": 15, "max_length": 2048},
    "nodes": 1,
    "gpusPerNode": 1,
}

SERVER_BASE: dict[str, Any] = {
    "images": {"tgi": TEST_IMAGES["tgi"], "vllm": TEST_IMAGES["vllm"],
               "proxy": TEST_IMAGES["proxy"], "kit": TEST_IMAGES["kit"]},
    "model": {"uri": "s3://acme-artifacts/runs/ft-test/model/", "servedNames": ["acme", "tgi"]},
    "auth": {"existingSecret": "acme-api-keys"},
    "tls": {"secret": "acme-server-tls"},
}

STAGE_BASE: dict[str, Any] = {
    "fullnameOverride": "acme-stage-ft-test",
    "images": {"kit": TEST_IMAGES["kit"]},
    "model": {"uri": "s3://acme-artifacts/runs/ft-test/model/"},
    "volume": {"storageClass": "lima-kit-models", "size": "40Gi"},
    "snapshot": {"name": "acme-model-ft-test", "className": "lima-kit-models"},
    "serviceAccount": {"create": True, "name": "acme-server"},
}


# The annotations that make each cloud's load balancer internal: the chart must pass them
# through unchanged. AWS's come from its CloudSupport; the others are the providers' documented
# annotations (their CloudSupport objects arrive with their stacks).
LB_ANNOTATIONS: dict[str, dict[str, str]] = {
    "aws": cloud_support("aws").internal_lb,
    "gcp": {"networking.gke.io/load-balancer-type": "Internal"},
    "azure": {"service.beta.kubernetes.io/azure-load-balancer-internal": "true"},
}


def _lb(cloud: str) -> dict[str, Any]:
    return {"service": {"internalLoadBalancer": {"enabled": True,
                                                 "annotations": LB_ANNOTATIONS[cloud],
                                                 "sourceRanges": ["10.20.0.0/16"]}},
            "networkPolicy": {"allowedCidrs": ["10.20.0.0/16"]}}


# case id -> (chart, values on top of the chart's base)
MATRIX: dict[str, tuple[str, dict[str, Any]]] = {
    "finetune-1gpu": ("finetune", {}),
    "finetune-8gpu": ("finetune", {"gpusPerNode": 8}),
    "finetune-multinode": ("finetune", {"nodes": 4, "gpusPerNode": 8}),
    "tgi-1gpu": ("tgi", {}),
    "tgi-8gpu-sharded": ("tgi", {"gpus": 8, "tgi": {"maxInputTokens": 8192, "maxTotalTokens": 16384,
                                                     "maxBatchPrefillTokens": 16384}}),
    "vllm-2gpu": ("tgi", {"engine": "vllm", "gpus": 2}),
    "lb-aws": ("tgi", _lb("aws")),
    "lb-gcp": ("tgi", _lb("gcp")),
    "lb-azure": ("tgi", _lb("azure")),
    "hpa": ("tgi", {"hpa": {"enabled": True, "minReplicas": 1, "maxReplicas": 3}}),
    "tgi-from-snapshot": ("tgi", {"modelVolume": {"snapshot": "acme-model-ft-test",
                                                  "storageClass": "lima-kit-models", "size": "40Gi"},
                                  "serviceAccount": {"create": True, "name": "acme-engine"}}),
    "stage": ("stage", {}),
    "keys-from-values": ("tgi", {"auth": {"existingSecret": "",
                                          "keys": {"primary": "k" * 32, "next": "n" * 32}}}),
}


def merge(base: dict[str, Any], extra: dict[str, Any]) -> dict[str, Any]:
    out = json.loads(json.dumps(base))
    for key, value in extra.items():
        if isinstance(value, dict) and isinstance(out.get(key), dict):
            out[key] = merge(out[key], value)
        else:
            out[key] = value
    return out


def case_values(case: str) -> tuple[str, dict[str, Any]]:
    chart, extra = MATRIX[case]
    base = {"finetune": FINETUNE_BASE, "tgi": SERVER_BASE, "stage": STAGE_BASE}[chart]
    return chart, merge(base, extra)


def load_dir(folder: Path, pattern: str = "*.yaml") -> list[dict[str, Any]]:
    objects: list[dict[str, Any]] = []
    for path in sorted(folder.glob(pattern)):
        objects.extend(d for d in yaml.safe_load_all(path.read_text()) if d)
    return objects


def pod_specs(objects: list[dict[str, Any]]) -> list[tuple[str, dict[str, Any]]]:
    """(kind/name, pod spec) of every workload among the objects."""
    specs = []
    for obj in objects:
        name = f"{obj['kind']}/{obj['metadata']['name']}"
        if obj["kind"] == "Pod":
            specs.append((name, obj["spec"]))
        elif obj["kind"] in ("Deployment", "StatefulSet", "DaemonSet", "ReplicaSet", "Job"):
            specs.append((name, obj["spec"]["template"]["spec"]))
        elif obj["kind"] == "CronJob":
            specs.append((name, obj["spec"]["jobTemplate"]["spec"]["template"]["spec"]))
    return specs


def by_kind(objects: list[dict[str, Any]], kind: str) -> list[dict[str, Any]]:
    return [o for o in objects if o["kind"] == kind]


def one(objects: list[dict[str, Any]], kind: str) -> dict[str, Any]:
    found = by_kind(objects, kind)
    assert len(found) == 1, f"expected one {kind}, got {len(found)}"
    return found[0]


def container(spec: dict[str, Any], name: str) -> dict[str, Any]:
    for c in spec.get("initContainers", []) + spec["containers"]:
        if c["name"] == name:
            return c
    raise AssertionError(f"no container {name}")
