"""What the AWS stack will hand the kit, known before it exists (`kit render`, `kit doctor`,
the offline plan): the names come from stacks/aws/names.py, exactly as the stack builds them."""

from __future__ import annotations

from typing import TYPE_CHECKING

from kit.errors import KitError
from stacks.aws import SUPPORT
from stacks.aws.names import MODEL_CLASS, kit_bucket_name, registry_prefix
from stacks.contract import ClusterOutputs

if TYPE_CHECKING:
    from kit.config import KitConfig


def default_outputs(cfg: "KitConfig") -> ClusterOutputs:
    """The buckets end in the account id (bucket names are global), so it must be known."""
    account = cfg.aws.account_id
    if not account:
        raise KitError("aws.account_id: needed to name the kit's buckets before `kit up` has run "
                       "(they are <name>-artifacts-<account>)",
                       hint="set aws.account_id in kit.yaml (`aws sts get-caller-identity`); "
                            "after `kit up` the stack's own outputs are used")
    return ClusterOutputs(
        cloud="aws", cluster_name=cfg.name, namespace=cfg.kubernetes.namespace,
        artifacts_uri=f"s3://{kit_bucket_name(cfg.name, 'artifacts', account)}",
        models_uri=f"s3://{kit_bucket_name(cfg.name, 'models', account)}",
        bucket_owner=account,
        data_uri=cfg.data.uri,
        registry_prefix=registry_prefix(cfg.name, account, cfg.region or ""),
        internal_lb_annotations=dict(SUPPORT.internal_lb),
        model_storage_class=MODEL_CLASS, model_snapshot_class=MODEL_CLASS,
    )
