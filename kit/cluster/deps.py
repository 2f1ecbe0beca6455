"""What a cluster deployment talks to, as one bundle: the target's CloudSupport, the Pulumi
stack driver, the cluster's API, the preflight checks and object storage.

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
    storage: Callable[[str], "Store"]              # a bucket URI -> its Store
    # (workdir, registry, names, log, credentials) -> the lock: build and push the kit's images.
    publish: Callable[..., dict[str, str]]
    # (source@digest, dest repository, tag, credentials) -> copied (False: already there).
    copy: Callable[..., bool]


def _ask(question: str) -> bool:
    import sys

    import click

    return sys.stdin.isatty() and click.confirm(question, default=False)


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

    return ClusterDeps(support=support, infra=infra, connect=lambda: connect_deployment(cfg),
                       checks=preflight.run, storage=lambda uri: open_store(uri), publish=publish,
                       copy=copy_image)
