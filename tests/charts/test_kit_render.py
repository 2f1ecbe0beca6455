"""`kit render` and the kit.render API: example configs, cloud defaults, one-line errors."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

import pytest
from chartkit import EXAMPLES, ROOT, TEST_IMAGES, by_kind, container, load_dir, one, pod_specs
from pss_restricted import violations

from kit.config import parse
from kit.errors import KitError
from kit.render import cluster_for, default_run_id, render_objects
from stacks.clouds import cloud_support

ACCOUNT = "123456789012"
ECR = f"{ACCOUNT}.dkr.ecr.us-east-1.amazonaws.com"


def config(tmp_path: Path, **overrides) -> "object":
    raw = {"name": "acme", "target": "aws", "region": "us-east-1",
           "model": {"id": "meta-llama/Llama-3.1-8B-Instruct"},
           "data": {"uri": "s3://acme-data/sft/"}, "aws": {"account_id": ACCOUNT}}
    raw.update(overrides)
    return parse(raw, base_dir=tmp_path)


@pytest.mark.parametrize("example", ["kubernetes", "aws", "gcp", "azure"])
def test_example_render_is_valid_and_restricted(example_renders, example):
    import kubernetes_validate

    out = example_renders[example]
    rbac = ["operator-rbac.yaml"] if example == "kubernetes" else []     # an existing cluster's grant
    stage = ["stage.yaml"] if example != "kubernetes" else []     # the clouds snapshot the staged model
    assert sorted(p.name for p in out.iterdir()) == sorted(["finetune.yaml", "platform.yaml",
                                                            "server.yaml", *rbac, *stage])
    objects = load_dir(out)
    for obj in objects:
        if obj["kind"] != "VolumeSnapshot":          # a CRD: tests/charts/test_charts.py
            kubernetes_validate.validate(obj, "1.33.0", strict=True)
    for name, spec in pod_specs(objects):
        assert violations(name, spec) == []


def test_platform_objects_lock_the_namespace_down(example_renders):
    objects = [o for name in ("platform.yaml", "finetune.yaml", "server.yaml")
               for o in load_dir(example_renders["kubernetes"], name)]
    ns = one(objects, "Namespace")
    assert ns["metadata"]["name"] == "lima-kit"
    assert ns["metadata"]["labels"]["pod-security.kubernetes.io/enforce"] == "restricted"
    policies = {p["metadata"]["name"]: p["spec"] for p in by_kind(objects, "NetworkPolicy")}
    assert policies["default-deny"] == {"podSelector": {}, "policyTypes": ["Ingress", "Egress"]}
    dns = policies["allow-dns"]["egress"][0]
    assert {"protocol": "UDP", "port": 53} in dns["ports"]
    # The example lists its storage network: HTTPS there only, for labelled pods only.
    assert policies["allow-storage"]["podSelector"] == {"matchLabels": {"lima-kit.io/storage-egress": "true"}}
    assert policies["allow-storage"]["egress"] == [
        {"to": [{"ipBlock": {"cidr": "10.20.0.0/24"}}], "ports": [{"protocol": "TCP", "port": 443}]}]
    assert all(o["metadata"].get("namespace", "lima-kit") == "lima-kit" for o in objects)


def test_kubernetes_example_serves_tgi_on_a_cluster_ip(example_renders):
    objects = load_dir(example_renders["kubernetes"])
    svc = next(o for o in by_kind(objects, "Service") if o["metadata"]["name"] == "acme-notes-server")
    assert svc["spec"]["type"] == "ClusterIP"
    deployment = one(objects, "Deployment")
    engine = container(deployment["spec"]["template"]["spec"], "engine")
    assert engine["image"] == TEST_IMAGES["tgi"]
    assert "--max-input-tokens=2048" in engine["args"] and "--max-total-tokens=2304" in engine["args"]
    job = one(objects, "Job")
    stage = container(job["spec"]["template"]["spec"], "stage-model")
    assert stage["args"][0] == "s3://acme-notes-kit-models/meta-llama/Llama-3.1-8B-Instruct/main/"


def test_aws_example_full_finetune_spans_the_pool_and_serves_vllm(example_renders):
    objects = load_dir(example_renders["aws"], "finetune.yaml") + load_dir(example_renders["aws"], "server.yaml")
    job = one(objects, "Job")
    assert job["spec"]["completions"] == 2                       # method full: max_nodes
    trainer = container(job["spec"]["template"]["spec"], "trainer")
    assert trainer["resources"]["limits"]["nvidia.com/gpu"] == 8
    deployment = one(objects, "Deployment")
    assert deployment["spec"]["replicas"] == 2
    engine = container(deployment["spec"]["template"]["spec"], "engine")
    # Pulled through the stack's ECR pull-through cache, pinned to the same digest.
    digest = TEST_IMAGES["vllm"].split("@")[1]
    assert engine["image"] == f"{ECR}/acme-notes/docker-hub/vllm/vllm-openai@{digest}"
    assert "--tensor-parallel-size=8" in engine["args"]
    svc = next(o for o in by_kind(objects, "Service") if o["spec"].get("type") == "LoadBalancer")
    assert svc["metadata"]["annotations"] == cloud_support("aws").internal_lb
    spec_map = one(load_dir(example_renders["aws"], "finetune.yaml"), "ConfigMap")
    upload = json.loads(spec_map["data"]["spec.json"])["upload_uri"]
    # The bucket the stack really creates: <name>-artifacts-<account>.
    assert upload.startswith(f"s3://acme-notes-artifacts-{ACCOUNT}/runs/ft-")


def test_render_objects_uses_real_cluster_outputs(tmp_path):
    cfg = config(tmp_path)
    cluster = cluster_for(cfg)
    cluster.private_cidrs = ["10.42.0.0/16"]
    cluster.registry_prefix = "999999999999.dkr.ecr.us-east-1.amazonaws.com/mirror/"
    cluster.trainer_sa_annotations = {"eks.amazonaws.com/role-arn": "arn:aws:iam::9:role/t"}
    releases = render_objects(cfg, cluster, run_id="ft-abc", images=TEST_IMAGES)
    assert list(releases) == ["platform", "finetune", "stage", "server"]
    sa = one(releases["finetune"], "ServiceAccount")
    assert sa["metadata"]["annotations"] == cluster.trainer_sa_annotations
    job = one(releases["finetune"], "Job")
    images = {c["name"]: c["image"] for c in job["spec"]["template"]["spec"]["containers"]
              + job["spec"]["template"]["spec"]["initContainers"]}
    digest = TEST_IMAGES["trainer"].split("@")[1]
    assert images["trainer"] == f"999999999999.dkr.ecr.us-east-1.amazonaws.com/mirror/trainer@{digest}"
    server = one(releases["server"], "Deployment")["spec"]["template"]["spec"]
    proxy = container(server, "auth-proxy")["image"]
    assert proxy.startswith("999999999999.dkr.ecr.us-east-1.amazonaws.com/mirror/docker-hub/nginxinc/")
    policy = next(p for p in releases["server"] if p["kind"] == "NetworkPolicy")
    assert {"ipBlock": {"cidr": "10.42.0.0/16"}} in policy["spec"]["ingress"][0]["from"]


def test_before_kit_up_no_storage_range_wider_than_the_published_one_is_rendered(tmp_path):
    """Before `kit up`, S3's ranges (the region's prefix list, read by the stack) are not
    known: the policy allows no storage egress rather than 0.0.0.0/0:443, and says why."""
    cfg = config(tmp_path)
    cluster = cluster_for(cfg)
    cluster.private_cidrs = ["10.42.0.0/16"]
    releases = render_objects(cfg, cluster, images=TEST_IMAGES)
    storage = next(p for p in releases["platform"] if p["metadata"]["name"] == "allow-storage")
    assert storage["spec"]["egress"] == []
    assert storage["spec"]["policyTypes"] == ["Egress"]
    why = storage["metadata"]["annotations"]["lima-kit.io/why"]
    assert why.startswith("no storage egress yet: ") and "once `kit up` has run" in why
    assert cloud_support("aws").https_anywhere in why


def test_after_kit_up_storage_reaches_exactly_the_stacks_ranges(tmp_path):
    cfg = config(tmp_path)
    cluster = cluster_for(cfg)
    cluster.storage_cidrs = ["16.182.0.0/16", "52.216.0.0/15"]
    releases = render_objects(cfg, cluster, images=TEST_IMAGES)
    storage = next(p for p in releases["platform"] if p["metadata"]["name"] == "allow-storage")
    assert storage["spec"]["egress"][0]["to"] == [{"ipBlock": {"cidr": "16.182.0.0/16"}},
                                                  {"ipBlock": {"cidr": "52.216.0.0/15"}}]
    assert storage["spec"]["egress"][0]["ports"] == [{"protocol": "TCP", "port": 443}]
    assert storage["spec"]["egress"][1] == {"to": [{"ipBlock": {"cidr": "169.254.170.23/32"}}],
                                            "ports": [{"protocol": "TCP", "port": 80}]}


def test_image_from_an_unmirrored_registry_is_refused(tmp_path):
    cfg = config(tmp_path)
    cluster = cluster_for(cfg)
    cluster.registry_prefix = "123.dkr.ecr.us-east-1.amazonaws.com/acme"
    lock = {**TEST_IMAGES, "proxy": "quay.io/nginx/nginx-unprivileged@sha256:" + "0" * 64}
    with pytest.raises(KitError, match="no pull-through cache"):
        render_objects(cfg, cluster, images=lock)


def test_aws_defaults_name_the_buckets_and_mirror_the_stack_creates(tmp_path):
    cluster = cluster_for(config(tmp_path))
    assert cluster.cloud == "aws"
    assert (cluster.artifacts_uri, cluster.models_uri) == (f"s3://acme-artifacts-{ACCOUNT}",
                                                           f"s3://acme-models-{ACCOUNT}")
    assert cluster.registry_prefix == f"{ECR}/acme"
    assert cluster.internal_lb_annotations == cloud_support("aws").internal_lb
    assert cluster.gpu_tolerations[0]["key"] == "nvidia.com/gpu"


def test_aws_defaults_without_the_account_name_the_key_to_set(tmp_path):
    cfg = config(tmp_path, aws={})
    with pytest.raises(KitError, match=r"^aws\.account_id: ") as err:
        cluster_for(cfg)
    assert "aws sts get-caller-identity" in (err.value.hint or "")


def test_saved_stack_outputs_win_over_the_defaults(tmp_path):
    from kit.jsonio import write_json

    cfg = config(tmp_path, aws={})
    write_json(cfg.workdir.cluster_outputs, {"cloud": "aws", "cluster_name": "acme",
                                             "artifacts_uri": "s3://real-artifacts",
                                             "models_uri": "s3://real-models", "not_a_field": 1})
    cluster = cluster_for(cfg)
    assert (cluster.artifacts_uri, cluster.models_uri) == ("s3://real-artifacts", "s3://real-models")


def test_existing_cluster_has_no_load_balancer_and_uses_the_operators_buckets(tmp_path):
    cfg = config(tmp_path, target="kubernetes", region=None, data={"uri": "gs://d/x/"},
                 kubernetes={"context": "onprem"},
                 storage={"artifacts_uri": "gs://acme-kit-runs/", "models_uri": "gs://acme-kit-models",
                          "bucket_owner": "123456789012"})
    cluster = cluster_for(cfg)
    assert (cluster.cluster_name, cluster.artifacts_uri, cluster.models_uri) == (
        "onprem", "gs://acme-kit-runs", "gs://acme-kit-models")
    assert cluster.internal_lb_annotations == {}
    server = render_objects(cfg, cluster, images=TEST_IMAGES)["server"]
    assert one(server, "Service")["spec"]["type"] == "ClusterIP"
    # Without a load balancer only pods of the namespace reach the proxy: no address ranges.
    policy = next(p for p in server if p["kind"] == "NetworkPolicy")
    assert policy["spec"]["ingress"][0]["from"] == [{"podSelector": {}}]


def test_run_id_follows_the_training_inputs(tmp_path):
    a = default_run_id(config(tmp_path))
    assert a == default_run_id(config(tmp_path))
    assert a != default_run_id(config(tmp_path, training={"epochs": 7}))
    assert a != default_run_id(config(tmp_path, gpu={"type": "a100", "count": 8}))


@pytest.mark.parametrize("overrides,message", [
    ({"data": {"uri": "./data.jsonl"}}, "data.uri"),
    ({"data": {"uri": "gs://other-cloud/x/"}}, "cannot be read privately"),
    ({"model": {"id": "./weights"}}, "model.id"),
])
def test_unreachable_inputs_are_one_line_errors(tmp_path, overrides, message):
    (tmp_path / "weights").mkdir()
    cfg = config(tmp_path, **overrides)
    with pytest.raises(KitError, match=message) as err:
        render_objects(cfg, cluster_for(config(tmp_path)), images=TEST_IMAGES)
    assert "\n" not in err.value.one_line()


def test_missing_images_lock_names_the_fix(tmp_path):
    cfg = config(tmp_path)
    with pytest.raises(KitError, match="no images lock") as err:
        render_objects(cfg, cluster_for(cfg))
    assert "--images" in (err.value.hint or "")


def test_lock_with_a_tag_is_refused(tmp_path):
    cfg = config(tmp_path)
    lock = {**TEST_IMAGES, "proxy": "nginxinc/nginx-unprivileged:1.29-alpine"}
    with pytest.raises(KitError, match="not pinned by digest"):
        render_objects(cfg, cluster_for(cfg), images=lock)


def _kit(*args: str, cwd: Path) -> subprocess.CompletedProcess:
    env = {**os.environ, "PYTHONPATH": os.pathsep.join(filter(None, [str(ROOT), os.environ.get("PYTHONPATH")]))}
    return subprocess.run([sys.executable, "-m", "kit", *args], cwd=cwd, capture_output=True,
                          text=True, check=False, env=env)


def test_local_target_is_a_clear_one_line_error(tmp_path):
    (tmp_path / "kit.yaml").write_text(
        "name: acme\ntarget: local\nmodel: {id: demo:tiny-llama}\ndata: {uri: data.jsonl}\n")
    proc = _kit("render", "-f", "kit.yaml", "--out", "out", cwd=tmp_path)
    assert proc.returncode == 1
    lines = proc.stderr.strip().splitlines()
    assert len(lines) == 1 and lines[0].startswith("error: target: local")
    assert not (tmp_path / "out").exists()


def test_cli_writes_files_from_a_lock(tmp_path):
    (tmp_path / "kit.yaml").write_text((EXAMPLES / "kubernetes" / "kit.yaml").read_text())
    (tmp_path / "lock.json").write_text(json.dumps(TEST_IMAGES))
    proc = _kit("render", "-f", "kit.yaml", "--out", "out", "--images", "lock.json",
                "--run-id", "ft-1", cwd=tmp_path)
    assert proc.returncode == 0, proc.stderr
    assert "platform.yaml" in proc.stdout
    spec = json.loads(one(load_dir(tmp_path / "out", "finetune.yaml"), "ConfigMap")["data"]["spec.json"])
    assert spec["run_id"] == "ft-1"


def test_render_command_imports_nothing_heavy():
    code = ("import sys, kit.cli, kit.commands.render; "
            "print(sorted(m for m in ('helm_python', 'kit.render', 'pulumi', 'kubernetes') "
            "if m in sys.modules))")
    proc = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True,
                          cwd=ROOT)
    assert proc.stdout.strip() == "[]"


def test_helm_cli_is_used_when_on_path(tmp_path, monkeypatch):
    """The `helm` CLI path: arguments, values file, YAML stream, one-line failures."""
    from kit.render import engine

    log = tmp_path / "args.txt"
    helm = tmp_path / "bin" / "helm"
    helm.parent.mkdir()
    helm.write_text(
        "#!/bin/sh\n"
        f'echo "$@" > {log}\n'
        'for a in "$@"; do case "$a" in *.json) cp "$a" ' f'{tmp_path}/values.json;; esac; done\n'
        'if [ "$2" = broken ]; then echo "Error: values don\'t meet the schema" >&2; exit 1; fi\n'
        "printf -- '---\\n# Source: x\\napiVersion: v1\\nkind: ConfigMap\\nmetadata: {name: b}\\n"
        "---\\napiVersion: v1\\nkind: Namespace\\nmetadata: {name: a}\\n'\n")
    helm.chmod(0o755)
    monkeypatch.setenv("PATH", f"{helm.parent}{os.pathsep}{os.environ['PATH']}")
    objects = engine.render_chart("tgi", {"engine": "vllm"}, release="acme-server", namespace="ns")
    assert [o["kind"] for o in objects] == ["Namespace", "ConfigMap"]     # Helm's install order
    args = log.read_text().split()
    assert args[:3] == ["template", "acme-server", str(engine.charts_dir() / "tgi")]
    assert args[3:5] == ["--namespace", "ns"] and args[5] == "--values"
    assert json.loads((tmp_path / "values.json").read_text()) == {"engine": "vllm"}
    with pytest.raises(KitError, match="helm template failed: Error: values don't meet the schema"):
        engine.render_chart("tgi", {}, release="broken", namespace="ns")


def test_render_without_a_lock_shows_every_object_marked_unpinned(tmp_path):
    """A reviewer with a fresh clone sees every object; the images are release tags, marked."""
    (tmp_path / "kit.yaml").write_text((EXAMPLES / "kubernetes" / "kit.yaml").read_text())
    proc = _kit("render", "-f", "kit.yaml", "--out", "out", cwd=tmp_path)
    assert proc.returncode == 0, proc.stderr
    warnings = proc.stderr.strip().splitlines()
    assert len(warnings) == 1 and warnings[0].startswith("warning: no digest for kit, trainer, proxy, tgi")
    job = one(load_dir(tmp_path / "out", "finetune.yaml"), "Job")
    assert job["metadata"]["annotations"]["lima-kit.io/unpinned-images"] == "kit,trainer,proxy,tgi"
    images = [c["image"] for c in job["spec"]["template"]["spec"]["containers"]]
    assert images == ["ghcr.io/lima-kit/trainer:0.1.0"]
    platform = load_dir(tmp_path / "out", "platform.yaml")
    assert all("lima-kit.io/unpinned-images" not in (o["metadata"].get("annotations") or {})
               for o in platform)       # no image there


def test_a_tag_is_refused_by_the_charts_unless_rendering_for_review():
    from kit.render.engine import render_chart
    from tests.charts.chartkit import FINETUNE_BASE

    tagged = {**FINETUNE_BASE, "images": {**FINETUNE_BASE["images"], "trainer": "ghcr.io/lima-kit/trainer:0.1.0"}}
    with pytest.raises(KitError, match="images"):
        render_chart("finetune", tagged, release="acme-finetune", namespace="ns")
    objects = render_chart("finetune", {**tagged, "reviewOnly": True}, release="acme-finetune", namespace="ns")
    assert any(o["kind"] == "Job" for o in objects)


@pytest.mark.parametrize("args,message", [
    (["render", "--out", "out"], "kit.yaml:3: storage.artifacts_uri: required for target kubernetes"),
    (["plan", "--offline"], "kit.yaml:3: storage.artifacts_uri: required for target kubernetes"),
])
def test_an_existing_cluster_without_the_operators_buckets_is_one_line(tmp_path, args, message):
    text = (EXAMPLES / "kubernetes" / "kit.yaml").read_text()
    start = text.index("storage:")
    end = text.index("kubernetes:", start)
    (tmp_path / "kit.yaml").write_text(text[:start] + text[end:])
    proc = _kit(*args, "-f", "kit.yaml", cwd=tmp_path)
    assert proc.returncode == 1
    # both missing buckets, each on its own line (kit.config lists every problem at once)
    summary, line, other = proc.stderr.strip().splitlines()
    assert summary == "error: kit.yaml: 2 problems, one a line:"
    assert line.startswith(message) and "Traceback" not in proc.stderr
    assert other.startswith("kit.yaml:3: storage.models_uri: required for target kubernetes")


def test_a_cloud_stack_makes_its_own_buckets(tmp_path):
    with pytest.raises(KitError, match="storage.models_uri: target aws makes its own buckets"):
        config(tmp_path, storage={"models_uri": "s3://elsewhere"})


def _env(spec: dict, name: str) -> dict[str, str]:
    return {e["name"]: e.get("value") for e in container(spec, name).get("env", [])}


def test_every_pod_that_touches_a_kit_bucket_names_the_account_that_must_own_it(tmp_path):
    """Bucket names are global: the trainer and the stagers send the expected owner with every
    call on the kit's buckets, so a same-named bucket elsewhere is refused (this process passes
    it to its stores itself: tests/data/test_bucket_owners.py; rendering writes nothing to its
    environment). The customer's data bucket may live in another account: it is not listed."""
    from kit.data.objects import OWNERS_ENV

    cfg = config(tmp_path)
    releases = render_objects(cfg, cluster_for(cfg), images=TEST_IMAGES)
    owners = {f"acme-artifacts-{ACCOUNT}": ACCOUNT, f"acme-models-{ACCOUNT}": ACCOUNT}
    assert not os.environ.get(OWNERS_ENV)
    job = one(releases["finetune"], "Job")["spec"]["template"]["spec"]
    stage = one(releases["stage"], "Job")["spec"]["template"]["spec"]
    server = one(releases["server"], "Deployment")["spec"]["template"]["spec"]
    touching = [(job, c["name"]) for c in job["initContainers"] + job["containers"]]
    touching.append((stage, "stage-model"))       # on AWS the server's pod reads no bucket
    for spec, name in touching:
        assert json.loads(_env(spec, name)[OWNERS_ENV]) == owners, name
    assert OWNERS_ENV not in _env(server, "auth-proxy")


def test_an_existing_clusters_buckets_carry_the_owner_the_operator_names(tmp_path):
    from kit.data.objects import OWNERS_ENV

    cfg = config(tmp_path, target="kubernetes", region=None, kubernetes={"context": "onprem"},
                 storage={"artifacts_uri": "s3://acme-runs", "models_uri": "s3://acme-models",
                          "bucket_owner": "210987654321"})
    job = one(render_objects(cfg, cluster_for(cfg), images=TEST_IMAGES)["finetune"], "Job")
    assert json.loads(_env(job["spec"]["template"]["spec"], "trainer")[OWNERS_ENV]) == {
        "acme-runs": "210987654321", "acme-models": "210987654321"}
    azure = config(tmp_path, target="kubernetes", region=None, kubernetes={"context": "onprem"},
                   data={"uri": "az://acct/data/"},
                   storage={"artifacts_uri": "az://acct/runs", "models_uri": "az://acct/models"})
    job = one(render_objects(azure, cluster_for(azure), images=TEST_IMAGES)["finetune"], "Job")
    assert OWNERS_ENV not in _env(job["spec"]["template"]["spec"], "trainer")


@pytest.mark.parametrize("runs,models", [("s3://acme-runs", "s3://acme-models"),
                                         ("gs://acme-runs", "gs://acme-models")])
def test_an_existing_clusters_buckets_without_an_owner_are_refused(tmp_path, runs, models):
    """S3 and GCS buckets named by the operator hold PHI-derived weights: without the owner
    (S3's expected-bucket-owner, the GCS project number) they would go to whoever holds the
    name. Azure names its account in the URI and is not asked (see the parametrized case above)."""
    with pytest.raises(KitError) as err:
        config(tmp_path, target="kubernetes", region=None, kubernetes={"context": "onprem"},
               storage={"artifacts_uri": runs, "models_uri": models})
    text = str(err.value)
    assert text.startswith("kit.yaml: storage.bucket_owner: required for target kubernetes")
    assert "\n" not in text


@pytest.mark.parametrize("storage,message", [
    ({"artifacts_uri": "gs://runs", "models_uri": "gs://models", "bucket_owner": "my-project"},
     "'my-project' is not an owner of gs://runs"),       # the project number, not its id
    ({"artifacts_uri": "az://acct/runs", "models_uri": "az://acct/models", "bucket_owner": "x1"},
     "az://acct/runs has no owner the kit can check"),
    ({"artifacts_uri": "s3://runs", "models_uri": "s3://models", "bucket_owner": "12345"},
     "'12345' is not an owner of s3://runs"),
    ({"artifacts_uri": "s3://runs", "models_uri": "s3://models", "bucket_owner": 123456789012},
     "quote it"),
])
def test_a_bucket_owner_the_storage_cannot_check_is_refused(tmp_path, storage, message):
    with pytest.raises(KitError, match="storage") as err:
        config(tmp_path, target="kubernetes", region=None, kubernetes={"context": "onprem"},
               storage=storage)
    assert message in str(err.value) and "\n" not in str(err.value)


def test_a_fixed_held_out_set_is_staged_beside_the_data_and_named_in_the_spec(tmp_path):
    cfg = config(tmp_path, eval={"uri": "s3://acme-data/held-out/"})
    job = one(render_objects(cfg, cluster_for(cfg), images=TEST_IMAGES)["finetune"], "Job")
    pod = job["spec"]["template"]["spec"]
    stage = container(pod, "stage-eval")
    assert stage["args"] == ["s3://acme-data/held-out/", "/work/eval"]
    assert {"name": "eval", "mountPath": "/work/eval", "readOnly": True} in container(pod, "trainer")["volumeMounts"]
    spec_map = one(render_objects(cfg, cluster_for(cfg), images=TEST_IMAGES)["finetune"], "ConfigMap")
    assert json.loads(spec_map["data"]["spec.json"])["eval_data"] == "/work/eval"
    with pytest.raises(KitError, match="eval.uri: './held.jsonl' is not a bucket the cluster can read"):
        other = config(tmp_path, eval={"uri": "./held.jsonl"})
        render_objects(other, cluster_for(other), images=TEST_IMAGES)
