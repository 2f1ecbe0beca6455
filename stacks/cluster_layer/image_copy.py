"""The stack's own upstream images (the NVIDIA device plugin; on EKS the cluster autoscaler too)
copied into the stack's registry inside the Pulumi program, after the registry can take them
and before the Kubernetes provider (hence every object that references them) is used: no
DaemonSet or Deployment waits on an image that is not there.

A dynamic resource run where `kit up` runs: skopeo (kit.images.copy) with the cloud's registry
login, named as "module:function" (its registry_login.py: a 12-hour ECR token, an ACR refresh
token exchanged from Entra ID). The copy keeps the locked digest, so the reference the objects
carry is exactly what the lock pins. Deleting the resource deletes nothing: the image goes with
its repository or registry (force-deleted only by `kit down --purge`).
"""

from __future__ import annotations

from typing import Any, Callable

import pulumi
from pulumi import dynamic


class _Copy(dynamic.ResourceProvider):
    def create(self, props: dict[str, Any]) -> dynamic.CreateResult:
        from kit.images.copy import copy_image
        from stacks.clouds import lazy

        destination = props["destination"]
        copy_image(props["source"], destination, props["tag"],
                   credentials=lazy(props["login"])(destination))
        digest = props["source"].partition("@")[2]
        return dynamic.CreateResult(id_=f"{destination}@{digest}", outs=dict(props))

    def diff(self, _id: str, olds: dict[str, Any], news: dict[str, Any]) -> dynamic.DiffResult:
        changed = [k for k in ("source", "destination", "tag") if olds.get(k) != news.get(k)]
        return dynamic.DiffResult(changes=bool(changed), replaces=changed,
                                  delete_before_replace=False)

    def delete(self, _id: str, _props: dict[str, Any]) -> None:
        return None


class ImageCopy(dynamic.Resource, module="kit", name="ImageCopy"):
    """`source` (repository@sha256:...) copied to `destination`:`tag`, pushed with the
    credentials `login` ("module:function", (registry) -> (user, password)) returns."""

    def __init__(self, name: str, source: str, destination: pulumi.Input[str], tag: str,
                 login: str, opts: pulumi.ResourceOptions | None = None) -> None:
        super().__init__(_Copy(), name, {"source": source, "destination": destination, "tag": tag,
                                         "login": login}, opts)


def copies(images: dict[str, str], prefix: str, login: str,
           after: Callable[[str], list[pulumi.Resource]]) -> list[ImageCopy]:
    """A copy per locked stack image (`images`: name -> repository@sha256:...), each after
    `after(name)` (its repository; the registry and the push grant). An image not locked yet
    (only in a plan to read) has nothing to copy: its object shows the release tag, marked
    unpinned."""
    from kit.images import IMAGES, through_mirror
    from kit.images.copy import copy_tag

    return [ImageCopy(f"copy-{name}", source, through_mirror(source, prefix).split("@", 1)[0],
                      copy_tag(IMAGES[name].tag, source), login,
                      opts=pulumi.ResourceOptions(depends_on=after(name)))
            for name, source in sorted(images.items())]
