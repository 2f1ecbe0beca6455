"""The stack's own upstream image on AKS (the NVIDIA device plugin: AKS installs the GPU
driver, not the plugin) copied into the kit's registry inside the Pulumi program, after the
registry and the operator's push grant exist and before the Kubernetes provider (hence the
DaemonSet that references it) is used: nothing references an image that is not there. AKS's
cluster autoscaler runs in its control plane: nothing else of the stack's to copy.

A dynamic resource run where `kit up` runs: skopeo (kit.images.copy) with an ACR refresh token
exchanged from an Entra ID token (stacks/azure/registry_login.py). The copy keeps the locked
digest, so the reference the DaemonSet carries is exactly what the lock pins. Deleting the
resource deletes nothing: the image goes with its registry.
"""

from __future__ import annotations

from typing import Any

import pulumi
from pulumi import dynamic


class _Copy(dynamic.ResourceProvider):
    def create(self, props: dict[str, Any]) -> dynamic.CreateResult:
        from kit.images.copy import copy_image
        from stacks.azure.registry_login import login

        destination = props["destination"]
        copy_image(props["source"], destination, props["tag"], credentials=login(destination))
        digest = props["source"].partition("@")[2]
        return dynamic.CreateResult(id_=f"{destination}@{digest}", outs=dict(props))

    def diff(self, _id: str, olds: dict[str, Any], news: dict[str, Any]) -> dynamic.DiffResult:
        changed = [k for k in ("source", "destination", "tag") if olds.get(k) != news.get(k)]
        return dynamic.DiffResult(changes=bool(changed), replaces=changed,
                                  delete_before_replace=False)

    def delete(self, _id: str, _props: dict[str, Any]) -> None:
        return None


class ImageCopy(dynamic.Resource, module="kit", name="ImageCopy"):
    """`source` (repository@sha256:...) copied to `destination`:`tag`."""

    def __init__(self, name: str, source: str, destination: pulumi.Input[str], tag: str,
                 opts: pulumi.ResourceOptions | None = None) -> None:
        super().__init__(_Copy(), name, {"source": source, "destination": destination, "tag": tag},
                         opts)


def copies(after: list[pulumi.Resource], images: dict[str, str], prefix: str) -> list[ImageCopy]:
    """A copy per locked stack image (`images`: name -> repository@sha256:...), each after
    `after` (the registry, its push grant). An image not locked yet (only in a plan to read)
    has nothing to copy: its object shows the release tag, marked unpinned."""
    from kit.images import IMAGES, through_mirror
    from kit.images.copy import copy_tag

    return [ImageCopy(f"copy-{name}", source, through_mirror(source, prefix).split("@", 1)[0],
                      copy_tag(IMAGES[name].tag, source),
                      opts=pulumi.ResourceOptions(depends_on=after))
            for name, source in sorted(images.items())]
