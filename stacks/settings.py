"""The stack's typed config (declared in Pulumi.yaml): the kit.yaml as JSON plus a few
per-cloud options kit.yaml has no key for yet.

Why JSON in stack config rather than a path to kit.yaml: the stack then depends on nothing
outside Pulumi's own settings, so `pulumi up`, the Automation API and the offline plan all see
exactly the same validated config, and the stack's config records what was deployed.
"""

from __future__ import annotations

import json
from dataclasses import asdict, dataclass, field
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    from kit.config import KitConfig

PROJECT = "lima-kit"

# The kit's own resources that outlive `kit down` (retainOnDelete unless --purge). Their
# names are deterministic per stack and account, so the next `kit up` can find and adopt them.
KIT_BUCKETS = ("artifacts", "models")
KEY = "key"
KEY_ALIAS = "key-alias"


def kit_bucket_name(name: str, purpose: str, account: str) -> str:
    """Globally unique and predictable: the platform layer knows it before it exists, and a
    later deployment of the same stack finds what an earlier one kept."""
    return f"{name}-{purpose}-{account}"


def key_alias_name(name: str) -> str:
    return f"alias/lima-kit/{name}"


@dataclass
class AwsOptions:
    """AWS-only knobs; defaults are the private, kit-created network."""

    vpc_id: str = ""
    subnet_ids: list[str] = field(default_factory=list)
    vpc_cidr: str = "10.42.0.0/16"
    az_count: int = 3
    vpc_endpoints: bool = True
    kubernetes_version: str = "1.33"
    operator_role_arn: str = ""
    data_kms_key_arn: str = ""
    ghcr_credential_arn: str = ""
    docker_hub_credential_arn: str = ""
    # Set by `kit up`, not by users: logical name (KIT_BUCKETS, KEY, KEY_ALIAS) -> physical id
    # of a kept resource of this stack that the program imports instead of creating.
    adopt: dict[str, str] = field(default_factory=dict)


# Python field -> stack config key (camelCase, as declared in Pulumi.yaml).
_KEYS = {"vpc_id": "vpcId", "subnet_ids": "subnetIds", "vpc_cidr": "vpcCidr", "az_count": "azCount",
         "vpc_endpoints": "vpcEndpoints", "kubernetes_version": "kubernetesVersion",
         "operator_role_arn": "operatorRoleArn", "data_kms_key_arn": "dataKmsKeyArn",
         "ghcr_credential_arn": "ghcrCredentialArn",
         "docker_hub_credential_arn": "dockerHubCredentialArn", "adopt": "adopt"}


@dataclass
class StackSettings:
    kit: "KitConfig"
    purge: bool = False
    aws: AwsOptions = field(default_factory=AwsOptions)
    run_id: str | None = None


def stack_config(cfg: "KitConfig", *, purge: bool = False, aws: AwsOptions | None = None,
                 run_id: str | None = None) -> dict[str, str]:
    """Fully qualified stack config (key -> string value, as `pulumi config` stores it)."""
    values: dict[str, Any] = {"kit": cfg.model_dump_json(), "baseDir": str(cfg.base_dir.resolve()),
                              "purge": purge, "runId": run_id or ""}
    for name, value in asdict(aws or AwsOptions()).items():
        values[_KEYS[name]] = value
    out = {}
    for key, value in values.items():
        out[f"{PROJECT}:{key}"] = value if isinstance(value, str) else json.dumps(value)
    return out


def load() -> StackSettings:
    """Read the settings inside a running Pulumi program (real engine or mocks)."""
    import pulumi

    from kit.config import KitConfig
    from kit.errors import KitError

    conf = pulumi.Config(PROJECT)
    kit = KitConfig.model_validate({**json.loads(conf.require("kit")),
                                    "base_dir": conf.get("baseDir") or "."})
    defaults = AwsOptions()
    opts: dict[str, Any] = {}
    for name, key in _KEYS.items():
        default = getattr(defaults, name)
        if isinstance(default, bool):
            value = conf.get_bool(key)
        elif isinstance(default, int):
            value = conf.get_int(key)
        elif isinstance(default, (list, dict)):
            value = conf.get_object(key)
        else:
            value = conf.get(key)
        opts[name] = default if value is None else value
    unknown = sorted(set(opts["adopt"]) - {*KIT_BUCKETS, KEY, KEY_ALIAS})
    if unknown:
        raise KitError(f"stack config {PROJECT}:adopt: no adoptable resource named {unknown[0]!r}",
                       hint=f"adoptable: {', '.join((*KIT_BUCKETS, KEY, KEY_ALIAS))}")
    return StackSettings(kit=kit, purge=bool(conf.get_bool("purge")), aws=AwsOptions(**opts),
                         run_id=conf.get("runId") or None)
