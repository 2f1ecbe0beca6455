"""A cluster deployment to drive ClusterTarget's commands whole (`kit up`, `kit train`, `kit
serve`) through the pipeline (kit.pipeline.flow): the stack is a fake that changes nothing, the
cluster's API replays a recorded Job (tests/cluster/fixtures), and the buckets are moto's S3 in
process (the data, the mirrored weights' manifest, the run's summary.json)."""

from __future__ import annotations

import io
import json
import tempfile
from pathlib import Path

from rich.console import Console

from kit.cluster.target import ClusterTarget
from kit.data.manifest import Entry, Manifest
from kit.data.storage import open_store, write_manifest
from kit.data.sync import sync
from kit.images import IMAGES, write_refs
from kit.jsonio import write_json
from stacks.contract import ClusterOutputs
from tests.cluster.fakes import fake_deps
from tests.cluster.moto_aws import ARTIFACTS, MODELS
from tests.conftest import ROOT

JOB = "acme-notes-finetune"
COMMIT = "0e9e39f249a16976918f6564b8830bc894c89659"     # what the mirror resolved "main" to
HELD_OUT = {"examples": 5, "base_loss": 2.1, "tuned_loss": 1.2, "generation": None}
SUCCEEDED_STATUS = {"succeeded": 1, "conditions": [{"type": "Complete", "status": "True"}]}


OUTPUTS = ClusterOutputs(cloud="aws", cluster_name="acme-notes", artifacts_uri=f"s3://{ARTIFACTS}/",
                         models_uri=f"s3://{MODELS}/")


class FakeInfra:
    """The stack as it stands after a first `kit up`: nothing to change."""

    def __init__(self, console) -> None:
        pass

    def up(self):
        return OUTPUTS, {}


def prepare(aws_cfg, aws, monkeypatch):
    """An AWS deployment whose stack and mirror exist: the data in its bucket, the base model's
    weights mirrored at the commit "main" resolved to, the images locked by digest. Takes the
    `aws_cfg`, `aws` and `monkeypatch` fixtures; returns the config."""
    s3 = aws("s3")
    for bucket in ("acme-clinical-notes", ARTIFACTS, MODELS):
        s3.create_bucket(Bucket=bucket)
    s3.put_object(Bucket="acme-clinical-notes", Key="sft/data.jsonl",
                  Body=(ROOT / "examples" / "quickstart" / "data.jsonl").read_bytes())
    weights = open_store(f"s3://{MODELS}/{aws_cfg.model.id}/main/")
    write_manifest(weights, Manifest(files={"model.safetensors": Entry(1, "0" * 64)}, kind="model",
                                     meta={"source": aws_cfg.model.id, "revision": COMMIT,
                                           "requested_revision": "main"}))
    write_json(aws_cfg.workdir.cluster_outputs, OUTPUTS.to_dict())      # as `kit up` saved them
    write_refs(aws_cfg.workdir, {n: f"registry.example/{n}@sha256:{'1' * 64}" for n in IMAGES})
    monkeypatch.setattr("kit.render.render_objects", lambda cfg, cluster, run_id: {"finetune": [
        {"apiVersion": "batch/v1", "kind": "Job", "status": {"active": 1},
         "metadata": {"name": JOB, "labels": {"lima-kit.io/run-id": run_id}}}]})
    return aws_cfg


def target(cfg, kube) -> ClusterTarget:
    return ClusterTarget(cfg, fake_deps(cfg, connect=lambda: kube, infra=FakeInfra,
                                        checks=lambda _cfg: []))


def job_applies(kube) -> list:
    return [c for c in kube.dyn.calls if c[:2] == ("apply", "Job")]


def quiet() -> Console:
    return Console(file=io.StringIO(), width=200)


METRICS = {"loss_first": 2.0, "loss_last": 0.9, "eval": HELD_OUT}


def finish(kube, run_id: str, metrics: dict = METRICS) -> None:
    """The Job trains to the end by itself; its trainer uploads summary.json last."""
    kube.dyn.objects[("Job", JOB)]["status"] = SUCCEEDED_STATUS
    summary = {"status": "succeeded", "run_id": run_id, "metrics": metrics}
    with tempfile.TemporaryDirectory() as tmp:   # published as the trainer does: manifest last
        (Path(tmp) / "summary.json").write_text(json.dumps(summary))
        sync(tmp, f"s3://{ARTIFACTS}/runs/{run_id}/")
