"""The layout of the kit's buckets: where a run's artifacts, the merged model, the mirrored base
weights and the remote image builds' contexts live. Shared by the chart values (kit.render),
the cluster target, `kit runs`, the trainer's upload and the stacks' IAM grants (which give the
trainer write access under RUNS_PREFIX only).

    <artifacts>/runs/<run_id>/                  everything the trainer uploads (checkpoints too)
    <artifacts>/runs/<run_id>/model/            the merged model the server loads (kit.trainer)
    <artifacts>/builds/<name>-<sha>.zip         a remote image build's context (kit.images.remote)
    <models>/<hub org>/<hub name>/<revision>/   base weights mirrored by `kit model mirror`

A run's folder has the same shape on this machine (.kit/<name>/runs/<id>/, kit.workdir).
"""

from __future__ import annotations

from typing import TYPE_CHECKING

from kit.errors import KitError

if TYPE_CHECKING:
    from stacks.contract import ClusterOutputs

RUNS_PREFIX = "runs/"       # in the artifacts bucket: one folder per run
BUILDS_PREFIX = "builds/"   # in the artifacts bucket: remote image builds' contexts
MERGED_SUBDIR = "model"     # in a run's folder: the merged model the server loads


def run_uri(artifacts_uri: str | None, run_id: str) -> str:
    """A run's folder in the artifacts bucket."""
    return f"{_bucket(artifacts_uri, 'artifacts')}/{RUNS_PREFIX}{run_id}/"


def merged_model_uri(artifacts_uri: str | None, run_id: str) -> str:
    """The merged model of a run: what the server loads."""
    return f"{run_uri(artifacts_uri, run_id)}{MERGED_SUBDIR}/"


def builds_uri(artifacts_uri: str | None) -> str:
    """Where remote image builds read their contexts from."""
    return f"{_bucket(artifacts_uri, 'artifacts')}/{BUILDS_PREFIX}"


def mirrored_model_uri(models_uri: str | None, hub_id: str, revision: str) -> str:
    """Where `kit model mirror` puts a hub model's weights at a revision."""
    return f"{_bucket(models_uri, 'models')}/{hub_id}/{revision}/"


def _bucket(uri: str | None, which: str) -> str:
    if not uri:
        raise KitError(f"cluster outputs: no {which} bucket", hint="run `kit up` to create it")
    return uri.rstrip("/")


def bucket_owners(cluster: "ClusterOutputs") -> dict[str, str]:
    """The kit's buckets and the account that must own them (the charts' bucketOwners)."""
    from kit.data.storage import parse_uri

    if not cluster.bucket_owner:
        return {}
    return {parse_uri(uri).bucket: cluster.bucket_owner
            for uri in (cluster.artifacts_uri, cluster.models_uri) if uri}
