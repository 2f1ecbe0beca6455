"""The stack's own upstream images (the NVIDIA device plugin, the cluster autoscaler) copied
into their ECR repositories inside the Pulumi program, after the repository exists and before
the Kubernetes provider (hence every object that references them) is used: the DaemonSet and
the Deployment never wait on an image that is not there.

A dynamic resource run where `kit up` runs: skopeo (kit.images.copy) with a 12-hour ECR login
(stacks/aws/registry_login.py). The copy keeps the locked digest, so the reference the objects
carry is exactly what the lock pins. Deleting the resource deletes nothing: the image goes with
its repository (force-deleted only by `kit down --purge`).
"""

from __future__ import annotations

from typing import Any

import pulumi
from pulumi import dynamic


class _Copy(dynamic.ResourceProvider):
    def create(self, props: dict[str, Any]) -> dynamic.CreateResult:
        from kit.images.copy import copy_image
        from stacks.aws.registry_login import login

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


def copies(repos: dict, images: dict[str, str], prefix: str) -> list[ImageCopy]:
    """A copy per locked stack image (`images`: name -> repository@sha256:...), each after its
    repository. An image not locked yet (only in a plan to read) has nothing to copy: its
    object shows the release tag, marked unpinned."""
    from kit.images import IMAGES, through_mirror
    from kit.images.copy import copy_tag

    return [ImageCopy(f"copy-{name}", source, through_mirror(source, prefix).split("@", 1)[0],
                      copy_tag(IMAGES[name].tag, source),
                      opts=pulumi.ResourceOptions(depends_on=[repos[name]]))
            for name, source in sorted(images.items())]
