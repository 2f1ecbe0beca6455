"""What a cluster deployment talks to, as one bundle: the target's CloudSupport, the Pulumi
stack driver, the cluster's API, the preflight checks and object storage (with the deployment's
bucket owners bound, so no store it opens can land in a same-named bucket of another account).

`real_deps(cfg)` builds the real ones; tests build the same bundle from fakes. Production
signatures take the bundle, never optional callables.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import TYPE_CHECKING, Any, Callable

if TYPE_CHECKING:
    from rich.console import Console

    from kit.cluster.kube import Kube
    from kit.cluster.preflight import Check
    from kit.config import KitConfig
    from kit.data.storage import Store
    from kit.infra.driver import Infra
    from stacks.clouds import CloudSupport


@dataclass
class ClusterDeps:
    support: "CloudSupport"
    infra: Callable[["Console"], "Infra"]          # the deployment's Pulumi stack
    connect: Callable[[], "Kube"]                  # the cluster's API server
    checks: Callable[["KitConfig"], list["Check"]]  # preflight (`kit doctor`)
    storage: Callable[[str], "Store"]              # a bucket URI -> its Store, owners bound
    # (workdir, registry, names, log, credentials) -> the lock: build and push the kit's images.
    publish: Callable[..., dict[str, str]]
    # (source@digest, dest repository, tag, credentials) -> copied (False: already there).
    copy: Callable[..., bool]


def _ask(question: str) -> bool:
    import sys

    import click

    return sys.stdin.isatty() and click.confirm(question, default=False)


def deployment_owners(cfg: "KitConfig") -> dict[str, str]:
    """The deployment's buckets and the account that must own each, from its cluster's outputs
    (the stack's own once `kit up` saved them, else derived from kit.yaml); none where there is
    no cluster yet (a local deployment, or one before `kit up`: nothing of the kit's is in a
    bucket then)."""
    from kit.layout.buckets import bucket_owners
    from kit.render import cluster_for

    if not cfg.workdir.cluster_outputs.exists():
        return {}
    return bucket_owners(cluster_for(cfg))


def real_deps(cfg: "KitConfig") -> ClusterDeps:
    from kit.cluster import preflight
    from kit.cluster.kube import connect_deployment
    from kit.data.storage import open_store
    from kit.images.copy import copy_image
    from kit.images.push import publish
    from kit.infra.driver import Infra, real_access
    from stacks.clouds import cloud_support

    support = cloud_support(cfg.target)

    def infra(console: "Console") -> Any:
        return Infra(cfg, console, real_access(cfg, confirm=_ask))

    def storage(uri: str) -> "Store":
        # The owners are read when the store opens: `kit up` may have just saved the outputs.
        return open_store(uri, owners=deployment_owners(cfg))

    return ClusterDeps(support=support, infra=infra, connect=lambda: connect_deployment(cfg),
                       checks=preflight.run, storage=storage, publish=publish,
                       copy=copy_image)
