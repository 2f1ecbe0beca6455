"""target: kubernetes, a cluster that exists already: the same seam as a cloud, with no
infrastructure of its own. The operator names the buckets (storage is theirs) and the
kubeconfig context; identity, load balancers and storage egress are the operator's choice.
The cluster admin makes the namespace and installs the NVIDIA device plugin (or GPU Operator):
the operator's grant (kit/cluster/rbac.py) writes nothing outside the kit's namespace."""

from __future__ import annotations

from stacks.clouds import CloudSupport, lazy

SUPPORT = CloudSupport(
    target="kubernetes",
    extra="kubernetes",
    modules=("kubernetes", "pulumi", "pulumi_kubernetes", "helm_python"),
    build="stacks.kubernetes.stack:build",
    default_outputs=lazy("stacks.kubernetes.stack:default_outputs"),
    needs_region=False,
    creates_cluster=False,
    has_registry=False,
    stack_images=(),
)
