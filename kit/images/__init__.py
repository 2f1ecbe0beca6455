"""Container images the kit deploys, and the digests they are pinned to: the table, the
images lock, resolution through the in-network mirror, and `kit images lock`.

The table below names each image and the release it must come from. Pods never run a tag:
every reference in a rendered object is `repository@sha256:<digest>`. The digests come
from an images lock, a JSON object {name: "repository@sha256:<64 hex>"} that
`kit images lock` (run where the registries are reachable) or a reviewed lock file
writes to the workdir's images.json; `kit render --images FILE` passes one explicitly.
Rendering never talks to a registry; only `lock_images` does.

`kit images lock` resolves each image's release tag to its digest with the Docker Registry
HTTP API v2 (the anonymous bearer-token flow that ghcr.io and Docker Hub use), a HEAD on the
manifest, and writes the lock atomically. Review and commit it: the cluster only ever pulls
those digests, through the in-network mirror.

Inside the network, images come from the registry mirror of ClusterOutputs.registry_prefix
(each cloud's registry lays it out the same way): an upstream image `<host>/<repo>@sha256:D` is pulled
as `<prefix>/<segment>/<repo>@sha256:D` through the pull-through cache rule of its host,
and the kit's own images as `<prefix>/<image>@sha256:D`. The digest is the same on both
sides, so pinning holds through the mirror.
"""

from __future__ import annotations

import json
import re
from collections.abc import Mapping
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Callable

from kit import __version__
from kit.errors import KitError
from kit.jsonio import write_json
from kit.workdir import Workdir

DIGEST_REF = re.compile(r"^[a-z0-9][a-z0-9._/:-]*@sha256:[a-f0-9]{64}$")


@dataclass(frozen=True)
class Image:
    repository: str
    tag: str       # the release whose digest the lock must hold
    why: str


IMAGES: dict[str, Image] = {
    "tgi": Image("ghcr.io/huggingface/text-generation-inference", "3.3.7",
                 "last TGI release; contains the CVE-2026-0599 fix (commit 24ee40d1)"),
    "vllm": Image("docker.io/vllm/vllm-openai", "v0.33.0",
                  "vLLM OpenAI-compatible server, the maintained alternative to TGI"),
    "proxy": Image("docker.io/nginxinc/nginx-unprivileged", "1.29-alpine",
                   "API-key proxy: small, well-known, non-root nginx with busybox sh"),
    "kit": Image("ghcr.io/lima-kit/kit", __version__,
                 "images/kit: stages data and weights (`python -m kit.data.sync`)"),
    "trainer": Image("ghcr.io/lima-kit/trainer", __version__,
                     "images/trainer: `python -m kit.trainer` with the [train] extra"),
    "device-plugin": Image("nvcr.io/nvidia/k8s-device-plugin", "v0.17.4",
                           "advertises nvidia.com/gpu on GPU nodes; applied by the stack itself"),
    "autoscaler": Image("registry.k8s.io/autoscaling/cluster-autoscaler", "v1.33.0",
                        "scales the GPU pool from zero and back (AWS); applied by the stack"),
    # The bases the kit's own images are built on (kit.images.build): locked like the rest, so
    # a rebuild uses the same base bytes as the reviewed one.
    "base-slim": Image("docker.io/library/python", "3.11-slim-bookworm",
                       "base of the kit image and the CPU trainer (Debian bookworm's Python 3.11)"),
    "base-cuda": Image("docker.io/pytorch/pytorch", "2.9.0-cuda12.8-cudnn9-runtime",
                       "base of the CUDA trainer: torch 2.9.0 and its CUDA libraries"),
}


def load_lock(path: Path) -> dict[str, str]:
    """Read an images lock and check every entry is a known name pinned by digest."""
    try:
        raw = json.loads(path.read_text(encoding="utf-8"))
    except FileNotFoundError:
        raise KitError(f"{path}: no such images lock",
                       hint="pass a JSON file of {name: repository@sha256:...}") from None
    except json.JSONDecodeError as exc:
        raise KitError(f"{path}:{exc.lineno}: invalid JSON: {exc.msg}") from None
    if not isinstance(raw, dict):
        raise KitError(f"{path}: an images lock is a JSON object of name -> reference")
    return check(raw, source=str(path))


def check(refs: Mapping[str, object], *, source: str) -> dict[str, str]:
    out: dict[str, str] = {}
    for name, ref in refs.items():
        if name not in IMAGES:
            raise KitError(f"{source}: {name}: unknown image name",
                           hint=f"known names: {', '.join(IMAGES)}")
        if not isinstance(ref, str) or not DIGEST_REF.match(ref):
            raise KitError(f"{source}: {name}: {ref!r} is not pinned by digest",
                           hint="use repository@sha256:<64 hex digits>, never a tag")
        out[name] = ref
    return out


# Upstream registry host -> the mirror's path segment for its pull-through cache rule.
UPSTREAM_SEGMENTS = {"ghcr.io": "ghcr", "docker.io": "docker-hub", "registry-1.docker.io": "docker-hub",
                     "registry.k8s.io": "k8s", "public.ecr.aws": "ecr-public"}
KIT_REPOSITORY_PREFIX = "ghcr.io/lima-kit/"
# Upstream repositories no pull-through cache can serve (nvcr.io): `kit up` copies them into the
# kit's registry under this name, every platform and the digest kept (kit.images.copy).
COPIED = {"nvcr.io/nvidia/k8s-device-plugin": "nvidia-device-plugin"}
KIT_IMAGES = ("kit", "trainer")     # built from images/ by `kit images build`


def mirror_join(cfg: Any) -> str:
    """How cfg's cloud hangs an upstream's mirror off the registry prefix (CloudSupport)."""
    from kit.targets import support_for

    return support_for(cfg.target).mirror_join


def through_mirror(ref: str, registry_prefix: str, join: str = "/") -> str:
    """The reference as pulled through the in-network mirror (unchanged without one): the
    kit's images at <prefix>/<image>, an upstream's at <prefix><join><segment>/<path>."""
    prefix = registry_prefix.rstrip("/")
    if not prefix or ref.startswith(prefix + "/"):
        return ref
    if ref.startswith(KIT_REPOSITORY_PREFIX):
        return f"{prefix}/{ref[len(KIT_REPOSITORY_PREFIX):]}"
    for repository, name in COPIED.items():
        if ref.startswith((repository + "@", repository + ":")):
            return f"{prefix}/{name}{ref[len(repository):]}"
    host, _, path = ref.partition("/")
    if host not in UPSTREAM_SEGMENTS:
        raise KitError(f"images lock: {ref}: {host} has no pull-through cache in the mirror",
                       hint=f"use an image from {', '.join(sorted(UPSTREAM_SEGMENTS))}, "
                            "or a reference already under the registry prefix")
    return f"{prefix}{join}{UPSTREAM_SEGMENTS[host]}/{path}"


def built_for_another_version(ref: str) -> bool:
    """A kit image locked as repository:<tag>@digest whose tag names another kit version (a
    reviewed lock without tags is taken as it is)."""
    name_part = ref.split("@", 1)[0]
    last = name_part.rsplit("/", 1)[-1]
    if ":" not in last:
        return False
    tag = last.split(":", 1)[1]
    return tag.split("-", 1)[0] != __version__


def unpinned(workdir: Workdir, needed: list[str], images: Mapping[str, str] | None = None) -> list[str]:
    """The needed images with no digest (in `images`, or else the deployment's lock)."""
    refs = check(images, source="images") if images is not None else current_lock(workdir)
    return [n for n in needed if n not in refs]


def resolve(workdir: Workdir, needed: list[str], images: Mapping[str, str] | None = None,
            *, registry_prefix: str = "", join: str = "/", review: bool = False) -> dict[str, str]:
    """The digest-pinned reference of every needed image, or a KitError naming the gaps. With
    `review`, an image without a digest is its release tag instead: for `kit render` to show
    every object before anything is locked; such objects are never applied."""
    if review:
        refs = check(images, source="images") if images is not None else current_lock(workdir)
        return {n: through_mirror(refs.get(n) or f"{IMAGES[n].repository}:{IMAGES[n].tag}",
                                  registry_prefix, join) for n in needed}
    if images is not None:
        refs = check(images, source="images")
    else:
        path = workdir.images_lock
        if not path.exists():
            raise KitError(
                f"{path}: no images lock: image digests are not known yet",
                hint="run `kit images lock` where the registries are reachable, "
                     "or pass `--images FILE` with {name: repository@sha256:...}")
        refs = load_lock(path)
    missing = [n for n in needed if n not in refs]
    if missing:
        wanted = ", ".join(f"{n} ({IMAGES[n].repository}:{IMAGES[n].tag})" for n in missing)
        raise KitError(f"images lock: no digest for {wanted}",
                       hint="run `kit images lock`, then render again")
    return {n: through_mirror(refs[n], registry_prefix, join) for n in needed}


def lock_images(workdir: Workdir, *, names: list[str] | None = None,
                registry: str | None = None, tags: Mapping[str, str] | None = None) -> dict[str, str]:
    """Resolve every image (or `names`) at its registry and write the lock; returns
    {name: repo@sha256:...}. With `registry`, the kit's own images are resolved where
    `kit images push` put them (<registry>/<name>:<version>) instead of their release repository;
    `tags` names another tag for an image (the trainer's CPU flavour: <version>-cpu)."""
    from kit.images.registry import resolve_digest

    def resolver(repository: str, tag: str) -> str:
        return resolve_digest(repository, tag)

    return write_lock(workdir, names, resolver, registry=registry, tags=tags)


def write_lock(workdir: Workdir, names: list[str] | None, resolver: Callable[[str, str], str],
               *, registry: str | None = None, tags: Mapping[str, str] | None = None) -> dict[str, str]:
    """Resolve `names` (default: every image) with resolver(repository, tag) -> digest, merge
    them into the deployment's lock and write it atomically."""
    wanted = names or list(IMAGES)
    unknown = [n for n in wanted if n not in IMAGES]
    if unknown:
        raise KitError(f"unknown image name(s): {', '.join(unknown)}",
                       hint=f"known names: {', '.join(IMAGES)}")
    current = current_lock(workdir)
    for name in wanted:
        image = IMAGES[name]
        repository = image.repository
        if registry and name in KIT_IMAGES:
            repository = f"{registry.rstrip('/')}/{name}"
        tag = (tags or {}).get(name, image.tag)
        digest = resolver(repository, tag)
        # The kit's own images keep their tag: it says which kit version they were built for.
        current[name] = f"{repository}:{tag}@{digest}" if name in KIT_IMAGES else f"{repository}@{digest}"
    return write_refs(workdir, current)


def current_lock(workdir: Workdir) -> dict[str, str]:
    """The deployment's images lock as it is ({} when there is none yet)."""
    return load_lock(workdir.images_lock) if workdir.images_lock.exists() else {}


def write_refs(workdir: Workdir, refs: Mapping[str, object]) -> dict[str, str]:
    """Check every entry (known name, pinned by digest), then write the lock atomically."""
    checked = check(refs, source=str(workdir.images_lock))
    write_json(workdir.images_lock, checked)
    return checked


def import_lock(workdir: Workdir, source: Path) -> dict[str, str]:
    """Check a hand-written or reviewed lock and install it for this deployment."""
    return write_refs(workdir, load_lock(source))
