"""Chart values computed from kit.yaml and the cluster's outputs.

The only place that knows how KitConfig maps onto charts/finetune, charts/stage and charts/tgi.
Where things are in the buckets is kit.layout.buckets', what objects are called
kit.layout.kube_names'.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

from kit.data.storage import BUCKET_FORMS, bucket_scheme, parse_uri
from kit.errors import KitError
from kit.estimate.fit import pod_memory_gib, server_memory_gib, training_nodes
from kit.gpus import TYPES
from kit.layout import buckets, kube_names
from kit.serving.client import CLIENT_DEFAULT_MODELS

if TYPE_CHECKING:
    from kit.config import KitConfig
    from stacks.contract import ClusterOutputs

# RFC 1918: "the private network" when no narrower client CIDRs are known.
PRIVATE_NETWORKS = ["10.0.0.0/8", "172.16.0.0/12", "192.168.0.0/16"]


def default_run_id(cfg: "KitConfig") -> str:
    """A run id for rendering without a run: the run fingerprint of kit.yaml's inputs (the
    data's URI standing in for its manifest, which only `kit up` reads)."""
    from kit.pipeline import run_fingerprint

    return "ft-" + run_fingerprint(cfg, data=cfg.data.uri, model_revision=cfg.model.revision,
                                   place={"gpu": cfg.gpu.model_dump()})[:10]


def run_uri(cluster: "ClusterOutputs", run_id: str) -> str:
    """A run's folder in this cluster's artifacts bucket (kit.layout.buckets)."""
    return buckets.run_uri(cluster.artifacts_uri, run_id)


def base_model_uri(cfg: "KitConfig", cluster: "ClusterOutputs") -> str:
    """Where the cluster reads base weights: a bucket URI as given, or the hub mirror."""
    model_id = cfg.model.id
    if bucket_scheme(model_id):
        return model_id.rstrip("/") + "/"
    check_model_source(cfg)
    return buckets.mirrored_model_uri(cluster.models_uri, model_id, cfg.model.revision)


def check_model_source(cfg: "KitConfig") -> None:
    """model.id must be a bucket URI or a hub id: a cluster cannot read this machine's files."""
    model_id = cfg.model.id
    if bucket_scheme(model_id):
        return
    local = cfg.resolve_path(model_id)
    if "://" in model_id or model_id.startswith(("/", ".", "~")) or (local and local.exists()):
        raise KitError(f"model.id: {model_id!r} is on this machine; the cluster cannot read it",
                       hint=f"upload it to a bucket and set model.id to its {BUCKET_FORMS} URI")


def data_uri(cfg: "KitConfig", uri: str | None = None, key: str = "data.uri") -> str:
    """A bucket URI the cluster can read privately (the training data, or eval.uri)."""
    uri = cfg.data.uri if uri is None else uri
    scheme = bucket_scheme(uri)
    if not scheme:
        raise KitError(f"{key}: {uri!r} is not a bucket the cluster can read",
                       hint=f"upload the data to a {BUCKET_FORMS} prefix: kit data push PATH URI")
    from stacks.clouds import cloud_support

    wanted = cloud_support(cfg.target).bucket_scheme
    if wanted and scheme != wanted:
        raise KitError(f"{key}: {scheme}:// data cannot be read privately from {cfg.target}",
                       hint=f"copy it to a {wanted}:// bucket in the same cloud")
    # Azure's blob URL (as copied from the portal) reaches the charts and the in-cluster stores,
    # which take bucket URIs only, in the kit's own form (parse_uri's).
    return parse_uri(uri).uri if uri.startswith("https://") else uri


def _sizes(cfg: "KitConfig", mem: int) -> tuple[dict[str, Any], str]:
    """Resources of a GPU container with `mem` GiB (kit.estimate.fit: what the run needs at its
    peak, never more than the node can give a pod) and its /dev/shm size, CPUs per GPU from the
    GPU table (kit.gpus) scaled with the GPU count."""
    cpu = TYPES[cfg.gpu.type].cpus * cfg.gpu.count
    resources = {
        "requests": {"cpu": str(cpu), "memory": f"{mem}Gi", "ephemeral-storage": "1Gi"},
        "limits": {"cpu": str(cpu), "memory": f"{mem}Gi", "ephemeral-storage": "2Gi"},
    }
    return resources, f"{max(1, mem // 4)}Gi"


def _identity(cfg: "KitConfig", annotations: dict[str, str]) -> tuple[dict, dict]:
    service_account = {"create": True, "annotations": dict(annotations)}
    from stacks.clouds import cloud_support

    return service_account, dict(cloud_support(cfg.target).identity_pod_labels)


def _placement(cluster: "ClusterOutputs") -> dict[str, Any]:
    return {"nodeSelector": dict(cluster.gpu_node_selector),
            "tolerations": [dict(t) for t in cluster.gpu_tolerations]}


def finetune_values(cfg: "KitConfig", cluster: "ClusterOutputs", images: dict[str, str],
                    run_id: str) -> dict[str, Any]:
    resources, shm = _sizes(cfg, pod_memory_gib(cfg))
    service_account, pod_labels = _identity(cfg, cluster.trainer_sa_annotations)
    return {
        "fullnameOverride": kube_names.finetune_job(cfg.name),
        "runId": run_id,
        "images": {"trainer": images["trainer"], "kit": images["kit"]},
        "nodes": training_nodes(cfg),
        "gpusPerNode": cfg.gpu.count,
        "stage": {"dataUri": data_uri(cfg), "modelUri": base_model_uri(cfg, cluster),
                  **({"evalUri": data_uri(cfg, cfg.eval.uri, "eval.uri")} if cfg.eval.uri else {})},
        "uploadUri": run_uri(cluster, run_id),
        "bucketOwners": buckets.bucket_owners(cluster),
        "training": cfg.training.model_dump(exclude_none=True),
        "eval": cfg.eval.trainer_options(),
        "resources": {"trainer": resources,
                      "stage": {"requests": {"cpu": "1", "memory": "2Gi", "ephemeral-storage": "256Mi"},
                                "limits": {"cpu": "2", "memory": "2Gi", "ephemeral-storage": "512Mi"}}},
        "shmSize": shm,
        "serviceAccount": service_account,
        "podLabels": pod_labels,
        **_placement(cluster),
    }


def server_values(cfg: "KitConfig", cluster: "ClusterOutputs", images: dict[str, str],
                  run_id: str) -> dict[str, Any]:
    resources, shm = _sizes(cfg, server_memory_gib(cfg))
    service_account, pod_labels = _identity(cfg, cluster.server_sa_annotations)
    engine = cfg.serving.engine
    total = cfg.training.max_length + cfg.serving.max_new_tokens
    lb = dict(cluster.internal_lb_annotations)
    network = list(cluster.private_cidrs) or PRIVATE_NETWORKS
    # Who may call: checked by the load balancer, where the client's address is still known
    # (behind it, kube-proxy's source NAT leaves the pod only node addresses to check).
    clients = list(cfg.serving.client_cidrs or network)
    values: dict[str, Any] = {
        "fullnameOverride": kube_names.release_name(cfg.name, kube_names.SERVER),
        "engine": engine,
        "images": {engine: images[engine], "proxy": images["proxy"], "kit": images["kit"]},
        "bucketOwners": buckets.bucket_owners(cluster),
        # vLLM answers to these only (the first is the one it lists); TGI ignores the name.
        "model": {"uri": buckets.merged_model_uri(cluster.artifacts_uri, run_id),
                  "servedNames": [cfg.name, *CLIENT_DEFAULT_MODELS]},
        "replicas": cfg.serving.replicas,
        "gpus": cfg.gpu.count,
        "tgi": {"maxInputTokens": cfg.training.max_length, "maxTotalTokens": total},
        "vllm": {"maxModelLen": total},
        "auth": {"existingSecret": kube_names.api_keys_secret(cfg.name)},
        "tls": {"secret": kube_names.tls_secret(cfg.name, cfg.serving.tls_secret)},
        "resources": resources,
        "shmSize": shm,
        "service": {"internalLoadBalancer": {"enabled": bool(lb), "annotations": lb,
                                             "sourceRanges": clients if lb else []}},
        "networkPolicy": {"allowedCidrs": network if lb else []},
        "serviceAccount": service_account,
        "podLabels": pod_labels,
        **_placement(cluster),
    }
    if cluster.model_snapshot_class:
        # The model comes from a snapshot the stage Job took: this pod reads no bucket, so it
        # gets an account with no cloud identity (the stack binds the server identity to the
        # stage Job's account, <name>-server) and no identity labels.
        values["modelVolume"] = {"snapshot": kube_names.model_snapshot(cfg.name, run_id),
                                 "storageClass": cluster.model_storage_class,
                                 "size": f"{cfg.serving.model_volume_gi}Gi"}
        values["serviceAccount"] = {"create": True, "name": kube_names.engine_account(cfg.name),
                                     "annotations": {}}
        values["podLabels"] = {}
    return values


def stage_values(cfg: "KitConfig", cluster: "ClusterOutputs", images: dict[str, str],
                 run_id: str) -> dict[str, Any]:
    """The Job that stages a run's merged model onto a volume, and the snapshot of it."""
    service_account, pod_labels = _identity(cfg, cluster.server_sa_annotations)
    return {
        "fullnameOverride": kube_names.stage_job(cfg.name, run_id),
        "images": {"kit": images["kit"]},
        "model": {"uri": buckets.merged_model_uri(cluster.artifacts_uri, run_id)},
        "volume": {"storageClass": cluster.model_storage_class,
                   "size": f"{cfg.serving.model_volume_gi}Gi"},
        "snapshot": {"name": kube_names.model_snapshot(cfg.name, run_id),
                     "className": cluster.model_snapshot_class},
        "serviceAccount": {**service_account, "name": kube_names.service_accounts(cfg.name)["server"]},
        "podLabels": pod_labels,
        "bucketOwners": buckets.bucket_owners(cluster),
    }
