"""The mirror phase publishes the kit's own images when the lock has no digest for them, so a
first `kit up` needs nothing published anywhere; and preflight says what it will do.

Each test runs `kit up` (ClusterTarget.up, fake deps) on a stack that is in place: the infra
phase finds it, the mirror phase does what is tested, and the data phase after it stops the run
(this test's data is on this machine: one line, nothing trained)."""

from __future__ import annotations

import io
import json

import pytest
from rich.console import Console

from kit.cluster.preflight import images_lock
from kit.cluster.target import ClusterTarget
from kit.errors import KitError
from kit.jsonio import write_json
from stacks.contract import ClusterOutputs
from tests.cluster.conftest import AWS, K8S, make
from tests.cluster.fakes import fake_deps

ECR = "123456789012.dkr.ecr.us-east-1.amazonaws.com/acme-notes"
UPSTREAM = {"proxy": "docker.io/nginxinc/nginx-unprivileged@sha256:" + "1" * 64,
            "tgi": "ghcr.io/huggingface/text-generation-inference@sha256:" + "2" * 64,
            "device-plugin": "nvcr.io/nvidia/k8s-device-plugin@sha256:" + "6" * 64,
            "autoscaler": "registry.k8s.io/autoscaling/cluster-autoscaler@sha256:" + "7" * 64}
OWN = {"kit": f"{ECR}/kit@sha256:" + "3" * 64, "trainer": f"{ECR}/trainer@sha256:" + "4" * 64}


# The base weights are read from a bucket as given (nothing to mirror); the data is on this
# machine, which the data phase refuses: the run stops right after the mirror phase.
ON_HERE = {"model": {"id": "s3://acme-models/llama/"}, "data": {"uri": "./notes.jsonl"}}
STOPS_AFTER_MIRROR = r"data.uri: './notes.jsonl' is not a bucket the cluster can read"


@pytest.fixture
def aws_cfg(tmp_path):
    return make(AWS, tmp_path, **ON_HERE)


@pytest.fixture
def k8s_cfg(tmp_path):
    return make(K8S, tmp_path, **ON_HERE)


class StackInPlace:
    """The deployment's Pulumi stack, up to date: `up` changes nothing and returns its outputs."""

    def __init__(self, outputs: ClusterOutputs) -> None:
        self.outputs = outputs

    def up(self):
        return self.outputs, {}


def deployed(cfg, registry: str, lock: dict) -> StackInPlace:
    write_json(cfg.workdir.images_lock, lock)
    return StackInPlace(ClusterOutputs(cfg.target, "acme-notes", artifacts_uri="s3://a",
                                       models_uri="s3://m", registry_prefix=registry))


def kit_up(cfg, stack: StackInPlace, *, out: io.StringIO | None = None, **fakes) -> None:
    """`kit up` through the mirror phase (STOPS_AFTER_MIRROR): preflight passes, the stack is
    in place, the registry login is the stack's."""
    deps = fake_deps(cfg, infra=lambda console: stack, checks=lambda c: [],
                     registry_login=lambda c, r: ("AWS", "token-for-" + r), **fakes)
    with pytest.raises(KitError, match=STOPS_AFTER_MIRROR):
        ClusterTarget(cfg, deps).up(Console(file=out or io.StringIO(), width=300))


def publisher(calls: list):
    def publish(workdir, registry, names, *, log, credentials):
        calls.append((registry, names, credentials))
        refs = {**json.loads(workdir.images_lock.read_text()), **{n: OWN[n] for n in names}}
        write_json(workdir.images_lock, refs)
        return refs
    return publish


def test_missing_own_images_are_built_and_pushed_to_the_stacks_registry(aws_cfg):
    stack = deployed(aws_cfg, ECR, UPSTREAM)
    calls: list = []
    kit_up(aws_cfg, stack, publish=publisher(calls), copy=copier([]))
    assert calls == [(ECR, ["kit", "trainer"], ("AWS", f"token-for-{ECR}"))]
    assert json.loads(aws_cfg.workdir.images_lock.read_text()) == {**UPSTREAM, **OWN}


def test_images_locked_for_another_kit_version_are_built_again(aws_cfg):
    old = {"kit": f"{ECR}/kit:0.0.9@sha256:" + "5" * 64, "trainer": OWN["trainer"]}
    stack = deployed(aws_cfg, ECR, {**UPSTREAM, **old})
    calls: list = []
    kit_up(aws_cfg, stack, publish=publisher(calls), copy=copier([]))
    assert [c[1] for c in calls] == [["kit"]]      # a lock without a tag is taken as reviewed


def test_a_complete_lock_publishes_nothing(aws_cfg):
    stack = deployed(aws_cfg, ECR, {**UPSTREAM, **OWN})
    kit_up(aws_cfg, stack, copy=copier([]))      # publishing would fail the test
    assert json.loads(aws_cfg.workdir.images_lock.read_text()) == {**UPSTREAM, **OWN}


def test_an_existing_cluster_without_a_registry_says_how_to_push(k8s_cfg):
    stack = deployed(k8s_cfg, "", UPSTREAM)
    deps = fake_deps(k8s_cfg, infra=lambda console: stack, checks=lambda c: [])
    with pytest.raises(KitError) as err:
        ClusterTarget(k8s_cfg, deps).up(Console(file=io.StringIO()))
    assert "no registry of the kit's own" in err.value.message
    assert "kit images push kit trainer --registry HOST/PREFIX" in err.value.hint


def test_preflight_needs_upstream_digests_and_names_the_command(aws_cfg):
    write_json(aws_cfg.workdir.images_lock, {"proxy": UPSTREAM["proxy"]})
    check = images_lock(aws_cfg)
    assert not check.ok and "tgi" in check.detail and "kit images lock tgi" in check.fix


def test_preflight_says_the_kits_images_will_be_built(aws_cfg, monkeypatch):
    write_json(aws_cfg.workdir.images_lock, UPSTREAM)
    monkeypatch.setattr("shutil.which",
                        lambda name: f"/usr/bin/{name}" if name in ("podman", "skopeo") else None)
    check = images_lock(aws_cfg)
    assert check.ok and "kit, trainer will be built with podman" in check.detail


def test_preflight_without_an_engine_fails_in_one_line(aws_cfg, monkeypatch):
    write_json(aws_cfg.workdir.images_lock, UPSTREAM)
    monkeypatch.setattr("shutil.which", lambda name: "/usr/bin/skopeo" if name == "skopeo" else None)
    with pytest.raises(KitError, match="no container engine found"):
        images_lock(aws_cfg)


def test_preflight_without_skopeo_names_it_and_how_to_install_it(aws_cfg, monkeypatch):
    write_json(aws_cfg.workdir.images_lock, {**UPSTREAM, **OWN})
    monkeypatch.setattr("shutil.which", lambda name: None)
    check = images_lock(aws_cfg)
    assert not check.ok and check.detail.startswith("skopeo not found")
    assert "apt install skopeo" in check.fix


def copier(calls: list, copied: bool = True):
    def copy(source, dest, tag, *, credentials):
        calls.append((source, dest, tag, credentials))
        return copied
    return copy


def test_on_aws_every_upstream_image_is_copied_into_the_stacks_registry_at_its_digest(aws_cfg):
    """AWS has no pull-through cache (CloudSupport.copies_upstreams): the device plugin, the
    autoscaler and the charts' proxy and engine are all copied, under the paths the charts
    pull, each tagged with its release and digest (immutable tags never collide)."""
    stack = deployed(aws_cfg, ECR, {**UPSTREAM, **OWN})
    calls: list = []
    out = io.StringIO()
    kit_up(aws_cfg, stack, out=out, copy=copier(calls))
    login = ("AWS", f"token-for-{ECR}")
    assert sorted(calls) == sorted([
        (UPSTREAM["device-plugin"], f"{ECR}/nvidia-device-plugin", "v0.17.4-666666666666", login),
        (UPSTREAM["autoscaler"], f"{ECR}/k8s/autoscaling/cluster-autoscaler",
         "v1.33.0-777777777777", login),
        (UPSTREAM["proxy"], f"{ECR}/docker-hub/nginxinc/nginx-unprivileged",
         "1.29-alpine-111111111111", login),
        (UPSTREAM["tgi"], f"{ECR}/ghcr/huggingface/text-generation-inference",
         "3.3.7-222222222222", login)])
    assert f"copied {UPSTREAM['device-plugin']} → {ECR}/nvidia-device-plugin" in out.getvalue()


def test_without_a_registry_of_its_own_nothing_is_copied(k8s_cfg):
    stack = deployed(k8s_cfg, "", {**UPSTREAM, **OWN})
    kit_up(k8s_cfg, stack)      # copying (or publishing) would fail the test


def test_the_base_weights_mirror_names_the_deployments_bucket_owner(aws_cfg, tmp_path, monkeypatch):
    """The mirror of base weights into the kit's models bucket runs on the operator's machine:
    its manifest is read through the deps' stores (owners bound) and the upload carries the
    deployment's bucket owners, so a same-named bucket of another account is refused (S3's
    x-amz-expected-bucket-owner: https://docs.aws.amazon.com/AmazonS3/latest/userguide/bucket-owner-condition.html,
    read 2026-12-07), as every other store of a cluster deployment is."""
    from kit.data import mirror as mirror_module
    from kit.data.storage import open_store

    cfg = make(AWS, tmp_path, model={"id": "acme/notes-base"}, data={"uri": "./notes.jsonl"})
    write_json(cfg.workdir.images_lock, {**UPSTREAM, **OWN})
    stack = StackInPlace(ClusterOutputs(cfg.target, "acme-notes", artifacts_uri="s3://acme-a",
                                        models_uri="s3://acme-m", registry_prefix=ECR,
                                        bucket_owner="111122223333"))
    opened: list[str] = []
    mirrored: list[dict] = []

    def storage(uri: str):
        opened.append(uri)
        return open_store(f"file://{tmp_path}/empty-models/")

    def mirror(model, dest, *, revision, owners=None, **_):
        mirrored.append({"model": model, "dest": dest, "owners": owners})
        raise KitError("stopped after the mirror was asked for")

    monkeypatch.setattr(mirror_module, "mirror", mirror)
    deps = fake_deps(cfg, infra=lambda console: stack, checks=lambda c: [], storage=storage,
                     registry_login=lambda c, r: ("AWS", "token"), copy=lambda *a, **k: False)
    with pytest.raises(KitError, match="stopped after the mirror was asked for"):
        ClusterTarget(cfg, deps).up(Console(file=io.StringIO(), width=300))
    assert [m["model"] for m in mirrored] == ["acme/notes-base"]
    assert mirrored[0]["dest"].startswith("s3://acme-m/") and mirrored[0]["dest"] in opened
    assert mirrored[0]["owners"] == {"acme-a": "111122223333", "acme-m": "111122223333"}
