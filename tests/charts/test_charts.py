"""Both charts over the values matrix: real Helm render, strict schema validation of every
object, helm lint, the restricted profile on every pod, and what each case must produce."""

from __future__ import annotations

import copy
import json
from pathlib import Path

import jsonschema
import pytest
from chartkit import (
    CHARTS,
    LB_ANNOTATIONS,
    MATRIX,
    NAMESPACE,
    TEST_IMAGES,
    by_kind,
    case_values,
    container,
    one,
    pod_specs,
)
from pss_restricted import violations

from kit.errors import KitError
from kit.render.engine import render_chart

K8S_VERSION = "1.33.0"
SCHEMAS = Path(__file__).parent / "schemas"


@pytest.mark.parametrize("case", list(MATRIX))
def test_every_object_passes_strict_schema(rendered, case):
    import kubernetes_validate

    objects = rendered[case]
    assert objects
    for obj in objects:
        assert obj["metadata"].get("namespace") == NAMESPACE, obj["metadata"]["name"]
        if obj["apiVersion"] == "snapshot.storage.k8s.io/v1":     # a CRD: its own schema
            jsonschema.validate(obj, json.loads((SCHEMAS / "volumesnapshot-snapshot-v1.json").read_text()))
        else:
            kubernetes_validate.validate(obj, K8S_VERSION, strict=True)


def test_the_snapshot_schema_is_strict(rendered):
    snapshot = copy.deepcopy(one(rendered["stage"], "VolumeSnapshot"))
    snapshot["spec"]["source"]["volumeSnapshotContentName"] = "x"      # both sources
    with pytest.raises(jsonschema.ValidationError):
        jsonschema.validate(snapshot, json.loads((SCHEMAS / "volumesnapshot-snapshot-v1.json").read_text()))


def test_strict_validation_catches_a_misspelt_field(rendered):
    import kubernetes_validate

    job = copy.deepcopy(one(rendered["finetune-1gpu"], "Job"))
    job["spec"]["template"]["spec"]["containers"][0]["securityContxt"] = {}
    with pytest.raises(kubernetes_validate.ValidationError):
        kubernetes_validate.validate(job, K8S_VERSION, strict=True)


@pytest.mark.parametrize("case", list(MATRIX))
def test_restricted_profile_on_every_pod(rendered, case):
    specs = pod_specs(rendered[case])
    assert specs, "every case renders a workload"
    for name, spec in specs:
        assert violations(name, spec) == []


def test_restricted_check_flags_a_bad_pod(rendered):
    job = copy.deepcopy(one(rendered["finetune-1gpu"], "Job"))
    spec = job["spec"]["template"]["spec"]
    spec["containers"][0]["securityContext"]["allowPrivilegeEscalation"] = True
    spec["containers"][0]["image"] = "python:3.11"
    spec["volumes"].append({"name": "host", "hostPath": {"path": "/"}})
    found = violations("Job/x", spec)
    assert any("allowPrivilegeEscalation" in v for v in found)
    assert any("not pinned by digest" in v for v in found)
    assert any("hostPath" in v for v in found)


@pytest.mark.parametrize("chart_case", ["finetune-multinode", "vllm-2gpu", "lb-azure", "hpa"])
def test_helm_lint_has_no_errors(chart_case):
    import helm_python

    chart, values = case_values(chart_case)
    report = helm_python.lint(str(CHARTS / chart), values, namespace=NAMESPACE)
    errors = [m for m in report["messages"] if m["severity"] >= 3] + report["errors"]
    assert report["total_charts_linted"] == 1
    assert errors == []


def test_helm_lint_reports_a_bad_value():
    import helm_python

    chart, values = case_values("tgi-1gpu")
    values["images"]["proxy"] = "nginx:latest"
    report = helm_python.lint(str(CHARTS / chart), values, namespace=NAMESPACE)
    assert [m for m in report["messages"] if m["severity"] >= 3] or report["errors"]


# --- fine-tune Job -----------------------------------------------------------------------


def _trainer(objects):
    spec = one(objects, "Job")["spec"]["template"]["spec"]
    return spec, container(spec, "trainer")


def test_single_gpu_runs_the_trainer_directly(rendered):
    job = one(rendered["finetune-1gpu"], "Job")
    spec, trainer = _trainer(rendered["finetune-1gpu"])
    assert trainer["command"] == ["python", "-m", "kit.trainer", "--spec", "/etc/lima-kit/spec.json"]
    assert trainer["resources"]["limits"]["nvidia.com/gpu"] == 1
    assert trainer["resources"]["requests"]["nvidia.com/gpu"] == 1
    assert job["spec"]["completionMode"] == "Indexed"
    assert job["spec"]["completions"] == 1
    assert job["spec"]["backoffLimit"] == 3
    assert job["spec"]["activeDeadlineSeconds"] > 0
    assert job["spec"]["ttlSecondsAfterFinished"] > 0
    assert spec["restartPolicy"] == "Never"
    assert not by_kind(rendered["finetune-1gpu"], "Service")


def test_stage_containers_sync_data_weights_and_the_run(rendered):
    spec, _ = _trainer(rendered["finetune-1gpu"])
    stages = {c["name"]: c for c in spec["initContainers"]}
    assert list(stages) == ["stage-data", "stage-model", "stage-run"]
    for c in stages.values():
        assert c["image"] == TEST_IMAGES["kit"]
    assert stages["stage-data"]["command"] == stages["stage-model"]["command"] == \
        ["python", "-m", "kit.data.sync"]
    assert stages["stage-run"]["command"][:2] == ["sh", "-c"]
    assert stages["stage-data"]["args"] == ["s3://acme-data/sft/", "/work/data"]
    assert stages["stage-model"]["args"] == ["s3://acme-models/llama/main/", "/work/model"]
    # A retried pod pulls the run's earlier uploads (checkpoints) back: resume.
    assert stages["stage-run"]["args"] == ["s3://acme-artifacts/runs/ft-test/", "/work/output"]


@pytest.mark.parametrize("sync_says,status,expected", [
    ("synced 3 files to /work/output", 0, 0),
    ("error: s3://acme-artifacts/runs/ft-test/: no .kit-manifest.json: nothing complete is "
     "published here (hint: publish it first)", 1, 0),
    ("error: s3://acme-artifacts/runs/ft-test/: no objects here (hint: check the URI)", 1, 1),
    ("error: s3://acme-artifacts/runs/ft-test/: access denied", 1, 1),
])
def test_stage_run_starts_fresh_only_when_nothing_was_uploaded(rendered, tmp_path, sync_says,
                                                                status, expected):
    """The stage-run script against a stand-in `python` that answers like kit.data.sync."""
    import os
    import subprocess

    spec, _ = _trainer(rendered["finetune-1gpu"])
    stage = container(spec, "stage-run")
    fake = tmp_path / "python"
    fake.write_text(f"#!/bin/sh\necho '{sync_says}'\nexit {status}\n")
    fake.chmod(0o755)
    proc = subprocess.run(stage["command"] + stage["args"], capture_output=True, text=True,
                          env={**os.environ, "PATH": f"{tmp_path}{os.pathsep}{os.environ['PATH']}"})
    assert proc.returncode == expected, proc.stderr


def test_spec_json_matches_the_trainer_contract(rendered, tmp_path):
    import json

    cm = one(rendered["finetune-1gpu"], "ConfigMap")
    spec = json.loads(cm["data"]["spec.json"])
    assert spec == {"run_id": "ft-test", "base_model": "/work/model", "data": "/work/data",
                    "output": "/work/output", "upload_uri": "s3://acme-artifacts/runs/ft-test/",
                    "training": {"method": "lora", "epochs": 15, "max_length": 2048}, "eval": {}}
    from kit.trainer.spec import load

    (tmp_path / "config.json").write_text("{}")
    (tmp_path / "spec.json").write_text(json.dumps({**spec, "base_model": str(tmp_path),
                                                    "eval": {"generate_examples": 2}}))
    assert load(tmp_path / "spec.json").eval == {"generate_examples": 2}   # the trainer takes it


def test_shm_and_scratch_are_emptydirs(rendered):
    spec, trainer = _trainer(rendered["finetune-8gpu"])
    volumes = {v["name"]: v for v in spec["volumes"]}
    assert volumes["shm"]["emptyDir"]["medium"] == "Memory"
    mounts = {m["mountPath"]: m["name"] for m in trainer["volumeMounts"]}
    assert mounts["/dev/shm"] == "shm" and mounts["/tmp"] == "tmp"
    assert all("emptyDir" in volumes[m] for m in ("data", "model", "output", "tmp"))


def test_eight_gpus_use_torchrun_standalone(rendered):
    _, trainer = _trainer(rendered["finetune-8gpu"])
    assert trainer["command"] == ["torchrun"]
    assert "--standalone" in trainer["args"] and "--nproc-per-node=8" in trainer["args"]
    assert trainer["args"][-4:] == ["-m", "kit.trainer", "--spec", "/etc/lima-kit/spec.json"]
    assert trainer["resources"]["limits"]["nvidia.com/gpu"] == 8


def test_multinode_rendezvous_through_a_headless_service(rendered):
    objects = rendered["finetune-multinode"]
    job = one(objects, "Job")
    spec, trainer = _trainer(objects)
    svc = one(objects, "Service")
    assert job["spec"]["completions"] == job["spec"]["parallelism"] == 4
    assert svc["spec"]["clusterIP"] == "None" and svc["spec"]["publishNotReadyAddresses"] is True
    assert spec["subdomain"] == svc["metadata"]["name"] == job["metadata"]["name"]
    env = {e["name"]: e for e in trainer["env"]}
    assert env["MASTER_ADDR"]["value"] == f"{job['metadata']['name']}-0.{svc['metadata']['name']}"
    assert env["WORLD_SIZE"]["value"] == "32" and env["NNODES"]["value"] == "4"
    assert env["NODE_RANK"]["valueFrom"]["fieldRef"]["fieldPath"] == \
        "metadata.annotations['batch.kubernetes.io/job-completion-index']"
    assert "--node-rank=$(NODE_RANK)" in trainer["args"]
    assert "--master-addr=$(MASTER_ADDR)" in trainer["args"]
    # Pods of the Job may talk to each other (NCCL), nothing else comes in.
    policy = one(objects, "NetworkPolicy")
    peers = policy["spec"]["ingress"][0]["from"]
    assert peers == [{"podSelector": {"matchLabels": svc["spec"]["selector"]}}]


def test_trainer_service_account_has_no_token(rendered):
    sa = one(rendered["finetune-1gpu"], "ServiceAccount")
    assert sa["automountServiceAccountToken"] is False


# --- inference server --------------------------------------------------------------------


def _engine(objects):
    spec = one(objects, "Deployment")["spec"]["template"]["spec"]
    return spec, container(spec, "engine")


def test_tgi_is_offline_local_and_loopback_only(rendered):
    spec, engine = _engine(rendered["tgi-1gpu"])
    args = engine["args"]
    assert engine["image"] == TEST_IMAGES["tgi"]
    assert "--model-id=/models/model" in args and "--hostname=127.0.0.1" in args
    assert "--usage-stats=off" in args and "--num-shard=1" in args
    env = {e["name"]: e.get("value") for e in engine["env"]}
    assert env["HF_HUB_OFFLINE"] == "1" and env["USAGE_STATS"] == "off"
    assert "ports" not in engine                       # only the proxy exposes a port
    stage = container(spec, "stage-model")
    assert stage["args"] == ["s3://acme-artifacts/runs/ft-test/model/", "/models/model"]
    assert all(p["exec"]["command"][0] == "python3"
               for p in (engine["startupProbe"], engine["readinessProbe"], engine["livenessProbe"]))
    assert engine["startupProbe"]["failureThreshold"] * engine["startupProbe"]["periodSeconds"] >= 1800


def test_tgi_shards_over_eight_gpus(rendered):
    _, engine = _engine(rendered["tgi-8gpu-sharded"])
    assert "--num-shard=8" in engine["args"]
    assert "--max-total-tokens=16384" in engine["args"]
    assert "--max-batch-prefill-tokens=16384" in engine["args"]
    assert "--payload-limit=2000000" in engine["args"]
    assert engine["resources"]["limits"]["nvidia.com/gpu"] == 8


def test_vllm_equivalents(rendered):
    _, engine = _engine(rendered["vllm-2gpu"])
    args = engine["args"]
    assert engine["command"] == ["vllm", "serve"] and args[0] == "/models/model"
    assert "--host=127.0.0.1" in args and "--tensor-parallel-size=2" in args
    i = args.index("--served-model-name")
    assert args[i + 1:i + 3] == ["acme", "tgi"]
    env = {e["name"]: e.get("value") for e in engine["env"]}
    assert env["VLLM_NO_USAGE_STATS"] == "1" and env["HF_HUB_OFFLINE"] == "1"


def test_proxy_is_the_only_way_in(rendered):
    objects = rendered["tgi-1gpu"]
    spec, _ = _engine(objects)
    proxy = container(spec, "auth-proxy")
    assert proxy["image"] == TEST_IMAGES["proxy"]
    assert [(p["name"], p["containerPort"]) for p in proxy["ports"]] == [("https", 8443)]
    keys = next(v for v in spec["volumes"] if v["name"] == "api-keys")
    assert keys["secret"]["secretName"] == "acme-api-keys"
    conf = one(objects, "ConfigMap")["data"]["nginx.conf"]
    assert "location = /health" in conf and "return 401" in conf
    assert 'proxy_set_header Authorization ""' in conf
    svc = one(objects, "Service")
    assert svc["spec"]["type"] == "ClusterIP"
    policy = one(objects, "NetworkPolicy")
    assert policy["spec"]["ingress"][0]["ports"] == [{"port": 8443, "protocol": "TCP"}]


@pytest.mark.parametrize("case", ["tgi-1gpu", "lb-aws", "lb-gcp", "lb-azure"])
def test_endpoint_is_https_only(rendered, case):
    """Keys and prompts never cross the network in clear text: the Service has one port,
    443, to the proxy's TLS listener, whose certificate comes from the TLS Secret."""
    objects = rendered[case]
    svc = one(objects, "Service")
    assert svc["spec"]["ports"] == [{"name": "https", "port": 443, "targetPort": "https",
                                     "protocol": "TCP"}]
    spec, _ = _engine(objects)
    proxy = container(spec, "auth-proxy")
    for probe in ("readinessProbe", "livenessProbe"):
        assert proxy[probe]["httpGet"]["scheme"] == "HTTPS"
    tls = next(v for v in spec["volumes"] if v["name"] == "tls")
    assert tls["secret"]["secretName"] == "acme-server-tls"
    assert {"name": "tls", "mountPath": "/etc/lima-tls", "readOnly": True} in proxy["volumeMounts"]
    conf = one(objects, "ConfigMap")["data"]["nginx.conf"]
    listens = [line.strip() for line in conf.splitlines() if line.strip().startswith("listen")]
    assert listens == ["listen 8443 ssl;"]
    assert "ssl_protocols TLSv1.2 TLSv1.3;" in conf


def test_chart_refuses_to_render_without_a_tls_secret():
    _, values = case_values("tgi-1gpu")
    values["tls"] = {"secret": ""}
    with pytest.raises(KitError, match="tls.secret is required"):
        render_chart("tgi", values, release="acme", namespace=NAMESPACE)


@pytest.mark.parametrize("cloud", ["aws", "gcp", "azure"])
def test_internal_load_balancer_per_cloud(rendered, cloud):
    objects = rendered[f"lb-{cloud}"]
    svc = one(objects, "Service")
    assert svc["spec"]["type"] == "LoadBalancer"
    assert svc["metadata"]["annotations"] == LB_ANNOTATIONS[cloud]
    assert svc["spec"]["loadBalancerSourceRanges"] == ["10.20.0.0/16"]
    peers = one(objects, "NetworkPolicy")["spec"]["ingress"][0]["from"]
    assert {"ipBlock": {"cidr": "10.20.0.0/16"}} in peers


def test_load_balancer_without_internal_annotations_is_refused():
    _, values = case_values("tgi-1gpu")
    values["service"] = {"internalLoadBalancer": {"enabled": True, "annotations": {}}}
    with pytest.raises(KitError, match="never creates a public load balancer"):
        render_chart("tgi", values, release="acme", namespace=NAMESPACE)


def test_server_without_api_keys_is_refused():
    _, values = case_values("tgi-1gpu")
    values["auth"] = {"existingSecret": "", "keys": {}}
    with pytest.raises(KitError, match="API keys"):
        render_chart("tgi", values, release="acme", namespace=NAMESPACE)


def test_tag_instead_of_digest_is_refused():
    _, values = case_values("finetune-1gpu")
    values["images"]["trainer"] = "ghcr.io/lima-kit/trainer:0.1.0"
    with pytest.raises(KitError, match="images"):
        render_chart("finetune", values, release="acme", namespace=NAMESPACE)


def test_hpa_owns_the_replica_count(rendered):
    objects = rendered["hpa"]
    hpa = one(objects, "HorizontalPodAutoscaler")
    deployment = one(objects, "Deployment")
    assert "replicas" not in deployment["spec"]
    assert hpa["spec"]["scaleTargetRef"]["name"] == deployment["metadata"]["name"]
    assert (hpa["spec"]["minReplicas"], hpa["spec"]["maxReplicas"]) == (1, 3)
    assert not by_kind(rendered["tgi-1gpu"], "HorizontalPodAutoscaler")


def test_pdb_selects_the_server_pods(rendered):
    objects = rendered["tgi-1gpu"]
    pdb = one(objects, "PodDisruptionBudget")
    labels = one(objects, "Deployment")["spec"]["template"]["metadata"]["labels"]
    assert pdb["spec"]["maxUnavailable"] == 1
    assert pdb["spec"]["selector"]["matchLabels"].items() <= labels.items()


def test_keys_from_values_make_a_secret(rendered):
    objects = rendered["keys-from-values"]
    secret = one(objects, "Secret")
    assert set(secret["stringData"]) == {"primary", "next"}
    spec, _ = _engine(objects)
    keys = next(v for v in spec["volumes"] if v["name"] == "api-keys")
    assert keys["secret"]["secretName"] == secret["metadata"]["name"]


def test_common_labels(rendered):
    for case, objects in rendered.items():
        for obj in objects:
            labels = obj["metadata"]["labels"]
            assert labels["app.kubernetes.io/instance"] == "acme", (case, obj["kind"])
            assert labels["app.kubernetes.io/managed-by"] == "Helm"
            assert labels["app.kubernetes.io/name"] in ("finetune", "tgi", "stage")
            assert labels["app.kubernetes.io/part-of"] == "lima-kit"
