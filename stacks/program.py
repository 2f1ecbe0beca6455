"""The Pulumi program: read the stack's config, ask the target's CloudSupport for its
infrastructure builder, then lay the cluster layer on its cluster and export the contract's
outputs. A builder returns (ClusterOutputs, kubeconfig or None, Kubernetes provider)."""

from __future__ import annotations

import importlib

import pulumi

from kit.errors import KitError
from stacks import settings as stack_settings
from stacks.clouds import CloudSupport, cloud_support


def _builder(support: CloudSupport):
    module, _, attr = support.use(support.build).partition(":")
    try:
        return getattr(importlib.import_module(module), attr)
    except ModuleNotFoundError as exc:
        if exc.name and exc.name.startswith("pulumi_"):
            raise KitError(f"target {support.target}: the '{exc.name}' package is not installed",
                           hint=f"pip install 'lima-kit[{support.extra}]'") from None
        raise


def main() -> None:
    from stacks.cluster_layer import cluster_layer

    s = stack_settings.load()
    support = cloud_support(s.kit.target)
    outputs, kubeconfig, provider = _builder(support)(s)
    cluster_layer(s.kit, outputs, provider, run_id=s.run_id,
                  device_plugin_images=s.images if "device-plugin" in support.stack_images else None,
                  review=s.review, owns_namespace=support.creates_cluster)
    for key, value in outputs.to_dict().items():
        if key != "kubeconfig":
            pulumi.export(key, value)
    if kubeconfig is not None:
        pulumi.export("kubeconfig", pulumi.Output.secret(kubeconfig))
