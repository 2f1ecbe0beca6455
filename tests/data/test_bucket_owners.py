"""The owner check on the kit's buckets is explicit: a cluster target's deps (kit.cluster.deps)
open every store with the deployment's bucket owners bound, read from its cluster's outputs, so
the check holds in a process that rendered nothing before and wrote no environment variable
(it used to hold only if kit.render.cluster_for had run earlier in the process).

Each test stands for the provider's documented behaviour it relies on:
- S3 refuses (403) a request whose x-amz-expected-bucket-owner is not the bucket owner's
  account: https://docs.aws.amazon.com/AmazonS3/latest/userguide/bucket-owner-condition.html
  (read 2026-12-07); moto does not enforce it, so the test checks every call carries it.
- GCS has no per-call condition; a bucket's metadata names its project number
  (https://cloud.google.com/storage/docs/json_api/v1/buckets, "projectNumber", read
  2026-12-07), read once when the store opens.
"""

from __future__ import annotations

import json
import os
import uuid
from dataclasses import asdict

import pytest

from kit.cluster.deps import real_deps
from kit.config import parse
from kit.data.objects import OWNERS_ENV
from kit.data.storage import parse_uri
from kit.errors import KitError
from kit.jsonio import write_json
from stacks.contract import ClusterOutputs


def deployment(folder, artifacts: str, owner: str):
    """An existing cluster's deployment whose `kit up` saved its outputs: the kit's buckets and
    the account (project number) that must own them (kit.yaml's own owner is the operator's
    word before that; the saved outputs are what the kit reads after)."""
    scheme = parse_uri(artifacts).scheme
    cfg = parse({"name": "acme", "target": "kubernetes", "kubernetes": {"context": "onprem"},
                 "model": {"id": "org/model"}, "data": {"uri": f"{scheme}://acme-data/sft/"},
                 "storage": {"artifacts_uri": artifacts, "models_uri": f"{scheme}://acme-models",
                             "bucket_owner": "210987654321"}}, base_dir=folder)
    write_json(cfg.workdir.cluster_outputs, asdict(ClusterOutputs(
        "kubernetes", "onprem", artifacts_uri=artifacts, models_uri=f"{scheme}://acme-models",
        bucket_owner=owner)))
    return cfg


def test_a_store_the_deps_open_refuses_a_gcs_bucket_of_another_project(gcs, tmp_path, monkeypatch):
    for key, value in gcs.env.items():
        monkeypatch.setenv(key, value)
    bucket = "gs://kit-test"      # the emulator's default bucket, in its project 1234
    uri = f"{bucket}/runs/{uuid.uuid4().hex[:12]}/"
    ours = real_deps(deployment(tmp_path / "ours", bucket, "1234")).storage(uri)
    ours.put("a.txt", b"hi")
    assert ours.read("a.txt") == b"hi"
    theirs = real_deps(deployment(tmp_path / "theirs", bucket, "999999999999"))
    with pytest.raises(KitError, match=r"gs://kit-test belongs to project 1234, not 999999999999: "
                                       r"refused"):
        theirs.storage(uri)
    assert not os.environ.get(OWNERS_ENV)     # the process environment was never the channel


def test_every_s3_call_of_a_store_the_deps_open_names_the_deployments_bucket_owner(s3, tmp_path):
    bucket = parse_uri(s3.uri + "/").root
    store = real_deps(deployment(tmp_path, bucket, "111122223333")).storage(s3.uri + "/")
    sent: list[bytes | None] = []
    store.client.meta.events.register(
        "before-send.s3", lambda request, **_: sent.append(request.headers.get("x-amz-expected-bucket-owner")))
    store.put("a.txt", b"hi")
    assert [o.key for o in store.list()] == ["a.txt"] and store.read("a.txt") == b"hi"
    assert len(sent) >= 3 and set(sent) == {b"111122223333"}
    # The customer's data bucket is not the kit's: the deps name no owner for it.
    data = real_deps(deployment(tmp_path / "other", "s3://acme-runs", "111122223333")).storage(s3.uri + "/")
    sent.clear()
    data.client.meta.events.register(
        "before-send.s3", lambda request, **_: sent.append(request.headers.get("x-amz-expected-bucket-owner")))
    assert [o.key for o in data.list()] == ["a.txt"]
    assert sent and set(sent) == {None}


def test_a_pod_reads_the_owners_its_chart_gave_it(s3, monkeypatch):
    """In a pod (no deployment to ask), the owners come from the environment the chart set."""
    from kit.data.storage import open_store

    monkeypatch.setenv(OWNERS_ENV, json.dumps({parse_uri(s3.uri + "/").bucket: "111122223333"}))
    assert open_store(s3.uri + "/").owner == "111122223333"
    assert open_store(s3.uri + "/", owners={}).owner is None     # given explicitly, it wins


def test_the_deployments_owners_come_from_its_saved_outputs_and_a_local_one_has_none(tmp_path):
    """What `kit eval` and `kit bench` pass when they write beside a run's artifacts."""
    from kit.cluster.deps import deployment_owners

    cfg = deployment(tmp_path / "cluster", "s3://acme-runs", "111122223333")
    assert deployment_owners(cfg) == {"acme-runs": "111122223333", "acme-models": "111122223333"}
    local = parse({"name": "acme", "target": "local", "model": {"id": "demo:tiny-llama"},
                   "data": {"uri": "./notes.jsonl"}}, base_dir=tmp_path / "local")
    assert deployment_owners(local) == {}
