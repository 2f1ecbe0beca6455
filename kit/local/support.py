"""target: local, as the seam describes it (kit.targets registers it): one machine, the kit's
own processes, no stack and no cluster. What it cannot do is said once, here, as the error a
command gives when asked for it."""

from __future__ import annotations

from stacks.clouds import CloudSupport, Lacks

SUPPORT = CloudSupport(
    target="local",
    extra="",                 # no SDK: the trainer and server check their own needs as they start
    modules=(),
    build=Lacks("target: {target} creates no infrastructure, so there is nothing to plan",
                "set target to kubernetes or a cloud in kit.yaml"),
    default_outputs=Lacks("target: {target} runs no Kubernetes objects, so there is nothing to render",
                          "set target to kubernetes or a cloud (see `kit init --help`)"),
    preflight=Lacks("target: {target} has no cluster; `kit doctor` checks cluster targets",
                    "`kit up` checks what the local target needs as it goes"),
    needs_region=False,
    creates_cluster=False,
    has_registry=False,
    stack_images=(),
    # The local server is transformers' own; the cluster engines are accepted and unused.
    default_engine="transformers",
    engines=("transformers", "tgi", "vllm"),
    demo_models=True,
    gpu_pool=False,
    detaches=Lacks("--detach: the {target} target trains in the foreground",
                   "run it in a terminal multiplexer, or use a cluster target"),
)
