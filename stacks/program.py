"""The Pulumi program: read the stack's typed config, build the target's infrastructure,
then the platform layer on its cluster, and export the contract's outputs.

Per-target builders are a table: each returns (ClusterOutputs, kubeconfig, provider).
"""

from __future__ import annotations

import importlib

import pulumi

from kit.errors import KitError
from stacks import settings as stack_settings
from stacks.contract import ClusterOutputs

BUILDERS = {"aws": "stacks.aws:build", "gcp": "stacks.gcp:build", "azure": "stacks.azure:build",
            "kubernetes": "stacks.program:existing_cluster"}


def existing_cluster(s: stack_settings.StackSettings):
    """target: kubernetes - a cluster that exists already (kubeconfig context from kit.yaml)."""
    import pulumi_kubernetes as k8s

    cfg = s.kit
    provider = k8s.Provider("cluster", context=cfg.kubernetes.context or None,
                            enable_server_side_apply=True)
    outputs = ClusterOutputs(cloud="kubernetes", cluster_name=cfg.kubernetes.context or "current",
                             namespace=cfg.kubernetes.namespace, data_uri=cfg.data.uri)
    return outputs, None, provider


def _builder(target: str):
    ref = BUILDERS.get(target)
    if ref is None:
        raise KitError(f"target: {target} has no infrastructure to build",
                       hint="use target aws or kubernetes")
    module, _, attr = ref.partition(":")
    try:
        return getattr(importlib.import_module(module), attr)
    except ModuleNotFoundError as exc:
        if exc.name and exc.name.startswith("pulumi_"):
            extra = target if target in ("aws", "gcp", "azure") else "kubernetes"
            raise KitError(f"target {target}: the '{exc.name}' package is not installed",
                           hint=f"pip install 'lima-kit[{extra}]'") from None
        if exc.name == module:
            raise KitError(f"target: {target} is not built into this version of lima-kit") from None
        raise


def main() -> None:
    from stacks.platform import platform

    s = stack_settings.load()
    outputs, kubeconfig, provider = _builder(s.kit.target)(s)
    platform(s.kit, outputs, provider, run_id=s.run_id,
             with_device_plugin=s.kit.target in ("aws", "kubernetes"))
    for key, value in outputs.to_dict().items():
        if key != "kubeconfig":
            pulumi.export(key, value)
    if kubeconfig is not None:
        pulumi.export("kubeconfig", pulumi.Output.secret(kubeconfig))
