"""The kit's own images, for real: built by `kit images build` with buildah, checked from the
inside (user, labels, SBOM, no compilers, no package manager, no secrets), the data sync run
against S3 (moto) and a tiny fine-tune run inside them, pushed by `kit images push` to a real
registry on loopback, resolved again by `kit images lock`, and the rendered charts pinned to
exactly the digests that were pushed."""

from __future__ import annotations

import json
import shutil
import sys

import pytest
import yaml

from tests.images.conftest import ROOT, kit, run_in, sh

pytestmark = pytest.mark.images


def config(image: str) -> dict:
    return json.loads(sh("buildah", "inspect", "--type", "image", image).stdout)["OCIv1"]["config"]


@pytest.mark.parametrize("name", ["kit", "trainer"])
def test_images_run_as_a_numeric_non_root_user_with_oci_labels(built, name):
    conf = config(built[name])
    assert conf["User"] == "10001:10001"
    labels = conf["Labels"]
    assert labels["org.opencontainers.image.version"] == "0.1.0"
    assert labels["org.opencontainers.image.source"].startswith("https://github.com/")
    assert len(labels["org.opencontainers.image.revision"]) in (40, len("unknown"))
    assert labels["org.opencontainers.image.base.name"] == "localhost/lima-kit-base:bookworm"
    assert not any(k.startswith(("AWS_", "GOOGLE_", "AZURE_", "HF_TOKEN")) for k in
                   (e.split("=", 1)[0] for e in conf.get("Env", [])))


@pytest.mark.parametrize("name,expected", [("kit", {"lima-kit", "boto3", "azure-storage-blob"}),
                                           ("trainer", {"lima-kit", "torch", "transformers", "peft"})])
def test_images_carry_an_sbom_of_what_they_hold(built, name, expected):
    sbom = json.loads(run_in(built[name], "cat", "/opt/kit/sbom.cdx.json").stdout)
    assert sbom["bomFormat"] == "CycloneDX" and sbom["specVersion"] == "1.5"
    names = {c["name"].lower() for c in sbom["components"]}
    assert expected <= names
    assert all(c["purl"].startswith("pkg:pypi/") for c in sbom["components"])


@pytest.mark.parametrize("name", ["kit", "trainer"])
def test_images_hold_no_compiler_package_manager_cache_or_weights(built, name):
    probe = run_in(built[name], "sh", "-c", user="0:0", args=
                   "for t in gcc cc g++ make; do command -v $t >/dev/null && echo FOUND $t; done; "
                   "test -e /root/.cache && echo FOUND /root/.cache; "
                   "ls -A /tmp | sed 's/^/FOUND \\/tmp\\//'; "
                   "python -m pip --version >/dev/null 2>&1 && echo FOUND pip; "
                   "find / -xdev \\( -name '*.safetensors' -o -name '*.gguf' -o -name '*.bin' \\) "
                   "2>/dev/null | sed 's/^/FOUND /'; echo probed")
    assert probe.stdout.strip().splitlines() == ["probed"], probe.stdout


def test_the_kit_image_stages_data_from_s3(built, moto, tmp_path):
    import boto3

    s3 = boto3.client("s3", endpoint_url=moto["AWS_ENDPOINT_URL"], region_name="us-east-1",
                      aws_access_key_id="testing", aws_secret_access_key="testing")
    s3.create_bucket(Bucket="acme-data")
    body = (ROOT / "examples" / "quickstart" / "data.jsonl").read_bytes()
    s3.put_object(Bucket="acme-data", Key="sft/data.jsonl", Body=body)
    out = tmp_path / "staged"
    out.mkdir()
    out.chmod(0o777)           # the image's user (10001) writes there
    proc = run_in(built["kit"], "python", "-m", "kit.data.sync", "s3://acme-data/sft/", "/data",
                  env=moto, volumes={out: "/data"})
    assert "synced 1 files" in proc.stdout
    assert (out / "data.jsonl").read_bytes() == body
    assert json.loads((out / ".kit-manifest.json").read_text())["files"]["data.jsonl"]


def test_the_trainer_image_fine_tunes_the_demo_model(built, tmp_path, report):
    from kit.local.demo_model import build_tiny_llama

    work = tmp_path / "work"
    build_tiny_llama(work / "model", hidden_size=64, num_layers=2, vocab_size=512)
    shutil.copy(ROOT / "examples" / "quickstart" / "data.jsonl", work / "data.jsonl")
    spec = {"run_id": "run-in-image", "base_model": "/work/model", "data": "/work/data.jsonl",
            "output": "/work/run", "upload_uri": None,
            "training": {"method": "lora", "epochs": 1, "max_length": 256, "batch_size": 8,
                         "learning_rate": 2e-3, "eval_fraction": 0.0}}
    (work / "spec.json").write_text(json.dumps(spec))
    sh("chmod", "-R", "a+rwX", str(work))
    proc = run_in(built["trainer"], "python", "-m", "kit.trainer", "--spec", "/work/spec.json",
                  volumes={work: "/work"}, timeout=900)
    events = [json.loads(line) for line in proc.stdout.splitlines() if line.startswith("{")]
    assert events[0]["event"] == "start" and events[-1]["event"] == "done", proc.stdout[-2000:]
    summary = json.loads((work / "run" / "summary.json").read_text())
    assert summary["status"] == "succeeded"
    assert (work / "run" / "model" / "config.json").is_file()
    report(f"fine-tune inside {built['trainer']}: {summary['metrics'].get('steps')} steps, "
           f"loss {summary['metrics'].get('loss_first'):.3f} -> {summary['metrics'].get('loss_last'):.3f}")


def test_push_lock_and_render_pin_exactly_what_was_pushed(built, registry, tmp_path, report):
    folder = tmp_path / "deploy"
    folder.mkdir()
    (folder / "kit.yaml").write_text(
        "name: acme\ntarget: kubernetes\nmodel: {id: 's3://acme-models/llama/'}\n"
        "storage: {artifacts_uri: 's3://acme-kit-artifacts', models_uri: 's3://acme-kit-models',\n"
        "          bucket_owner: '123456789012'}\n"
        "data: {uri: 's3://acme-data/sft/'}\nkubernetes: {context: test, storage_cidrs: [10.0.0.0/24]}\n")
    prefix = f"{registry}/lima-kit"
    pushed = json.loads(kit("images", "push", "--registry", prefix, "--cpu", "--engine", "buildah",
                            "-o", "json", cwd=folder).stdout)
    for name, tag in (("kit", "0.1.0"), ("trainer", "0.1.0-cpu")):
        remote = json.loads(sh("skopeo", "inspect", "--tls-verify=false",
                               f"docker://{prefix}/{name}:{tag}").stdout)
        assert pushed[name] == f"{prefix}/{name}:{tag}@{remote['Digest']}"
        report(f"pushed {prefix}/{name}:{tag} -> {remote['Digest']}")

    lock_path = folder / ".kit" / "acme" / "images.json"
    lock_path.unlink()
    locked = json.loads(kit("images", "lock", "kit", "trainer", "--registry", prefix, "--cpu",
                            "-o", "json", cwd=folder).stdout)
    assert locked == pushed                  # the registry serves the digests that were pushed

    upstream = {n: f"{r}@sha256:{'a' * 64}" for n, r in (
        ("tgi", "ghcr.io/huggingface/text-generation-inference"),
        ("proxy", "docker.io/nginxinc/nginx-unprivileged"))}
    (folder / "lock.json").write_text(json.dumps({**locked, **upstream}))
    kit("render", "--out", "out", "--images", "lock.json", cwd=folder)
    job = next(o for o in yaml.safe_load_all((folder / "out" / "finetune.yaml").read_text())
               if o and o["kind"] == "Job")
    pod = job["spec"]["template"]["spec"]
    images = {c["name"]: c["image"] for c in pod["containers"] + pod["initContainers"]}
    assert images["trainer"] == pushed["trainer"]
    assert {images[c] for c in images if c != "trainer"} == {pushed["kit"]}
    report(f"rendered Job runs {images['trainer']}")


def test_build_without_an_engine_lists_the_engines(tmp_path):
    from tests.images.conftest import engine_env

    env = {**engine_env(), "PATH": str(tmp_path)}      # no docker, podman or buildah there
    proc = sh(sys.executable, "-m", "kit", "images", "build", "kit", env=env, check=False)
    assert proc.returncode == 1
    assert proc.stderr.strip().splitlines() == [
        "error: no container engine found (docker, podman, buildah not on PATH) (hint: install "
        "docker, podman or buildah, or let the cloud's builder build in your account: kit images "
        "build --remote)"]
